/*
 * A CMPI provider written in C against the generated include/cmpi.h, used by
 * tests/c_provider.rs. Provider "Test_C": Test_Element instances (key Name,
 * property Size) in a static table, Test_Link associations a->b and a->c,
 * methods Echo (every IN arg comes back as an OUT arg) and Fire (delivers an
 * indication), and an indication MI.
 */
#include <stddef.h>
#include <string.h>
#include "cmpi.h"

/* The C compiler's view of the generated layouts (x86_64). */
_Static_assert(sizeof(CMPIData) == 24 && offsetof(CMPIData, value) == 8, "CMPIData");
_Static_assert(sizeof(CMPIStatus) == 16, "CMPIStatus");
_Static_assert(sizeof(CMPIBroker) == 40 && offsetof(CMPIBroker, mft) == 32, "CMPIBroker");
_Static_assert(sizeof(CMPIBrokerFT) == 160 && offsetof(CMPIBrokerFT, getProperty) == 152, "CMPIBrokerFT");
_Static_assert(offsetof(CMPIBrokerEncFT, getMessage2) == 160, "CMPIBrokerEncFT");
_Static_assert(sizeof(CMPIInstanceMIFT) == 80 && offsetof(CMPIInstanceMIFT, execQuery) == 72, "InstanceMIFT");
_Static_assert(offsetof(CMPIIndicationMIFT, disableIndications) == 64, "IndicationMIFT");
_Static_assert(offsetof(CMPIObjectPathFT, toString) == 152, "CMPIObjectPathFT");

#define NS "root/cimv2"
#define MAXEL 16

static const CMPIBroker *BROKER;
static struct { char name[32]; CMPIUint32 size; int used; } STORE[MAXEL];
static int SEEDED;
static int ACTIVE;

static CMPIStatus ok(void) { CMPIStatus s = {CMPI_RC_OK, NULL}; return s; }

static CMPIStatus fail(CMPIrc rc, const char *msg) {
  CMPIStatus s;
  s.rc = rc;
  s.msg = BROKER->eft->newString(BROKER, msg, NULL);
  return s;
}

static void seed(void) {
  const char *names[] = {"a", "b", "c"};
  int i;
  if (SEEDED) return;
  for (i = 0; i < 3; i++) {
    strcpy(STORE[i].name, names[i]);
    STORE[i].size = 1;
    STORE[i].used = 1;
  }
  SEEDED = 1;
}

static const char *str(CMPIString *s) { return s ? s->ft->getCharPtr(s, NULL) : NULL; }

static CMPIObjectPath *path_of(const char *name) {
  CMPIObjectPath *op = BROKER->eft->newObjectPath(BROKER, NS, "Test_Element", NULL);
  op->ft->addKey(op, "Name", (const CMPIValue *)name, CMPI_chars);
  return op;
}

static CMPIInstance *instance_of(int i) {
  CMPIInstance *inst = BROKER->eft->newInstance(BROKER, path_of(STORE[i].name), NULL);
  inst->ft->setProperty(inst, "Name", (const CMPIValue *)STORE[i].name, CMPI_chars);
  inst->ft->setProperty(inst, "Size", (const CMPIValue *)&STORE[i].size, CMPI_uint32);
  return inst;
}

static int find(const CMPIObjectPath *op) {
  CMPIStatus rc;
  CMPIData d = op->ft->getKey(op, "Name", &rc);
  int i;
  if (rc.rc != CMPI_RC_OK || (d.state & CMPI_nullValue) || d.type != CMPI_string) return -1;
  for (i = 0; i < MAXEL; i++)
    if (STORE[i].used && strcmp(STORE[i].name, str(d.value.string)) == 0) return i;
  return -1;
}

/* ---- Instance MI ---- */

static CMPIStatus cleanup_inst(CMPIInstanceMI *mi, const CMPIContext *ctx, CMPIBoolean t) {
  (void)mi; (void)ctx; (void)t;
  return ok();
}

static CMPIStatus enum_names(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                             const CMPIObjectPath *op) {
  int i;
  (void)mi; (void)ctx; (void)op;
  for (i = 0; i < MAXEL; i++)
    if (STORE[i].used) rslt->ft->returnObjectPath(rslt, path_of(STORE[i].name));
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus enum_insts(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                             const CMPIObjectPath *op, const char **props) {
  int i;
  (void)mi; (void)ctx; (void)op; (void)props;
  for (i = 0; i < MAXEL; i++)
    if (STORE[i].used) rslt->ft->returnInstance(rslt, instance_of(i));
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus get_inst(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                           const CMPIObjectPath *op, const char **props) {
  int i = find(op);
  (void)mi; (void)ctx; (void)props;
  if (i < 0) return fail(CMPI_RC_ERR_NOT_FOUND, "no such element");
  rslt->ft->returnInstance(rslt, instance_of(i));
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus create_inst(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                              const CMPIObjectPath *op, const CMPIInstance *inst) {
  CMPIStatus rc;
  CMPIData name = inst->ft->getProperty(inst, "Name", &rc);
  CMPIData size = inst->ft->getProperty(inst, "Size", NULL);
  int i;
  (void)mi; (void)ctx; (void)op;
  if (rc.rc != CMPI_RC_OK || name.type != CMPI_string) return fail(CMPI_RC_ERR_INVALID_PARAMETER, "Name required");
  for (i = 0; i < MAXEL; i++)
    if (STORE[i].used && strcmp(STORE[i].name, str(name.value.string)) == 0)
      return fail(CMPI_RC_ERR_ALREADY_EXISTS, "exists");
  for (i = 0; i < MAXEL && STORE[i].used; i++) {}
  if (i == MAXEL) return fail(CMPI_RC_ERR_FAILED, "store full");
  strncpy(STORE[i].name, str(name.value.string), sizeof STORE[i].name - 1);
  STORE[i].size = size.type == CMPI_uint32 && !(size.state & CMPI_nullValue) ? size.value.uint32 : 0;
  STORE[i].used = 1;
  rslt->ft->returnObjectPath(rslt, path_of(STORE[i].name));
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus modify_inst(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                              const CMPIObjectPath *op, const CMPIInstance *inst, const char **props) {
  int i = find(op);
  CMPIStatus rc;
  CMPIData size;
  (void)mi; (void)ctx; (void)props; (void)rslt;
  if (i < 0) return fail(CMPI_RC_ERR_NOT_FOUND, "no such element");
  size = inst->ft->getProperty(inst, "Size", &rc);
  if (rc.rc == CMPI_RC_OK && size.type == CMPI_uint32) STORE[i].size = size.value.uint32;
  return ok();
}

static CMPIStatus delete_inst(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                              const CMPIObjectPath *op) {
  int i = find(op);
  (void)mi; (void)ctx; (void)rslt;
  if (i < 0) return fail(CMPI_RC_ERR_NOT_FOUND, "no such element");
  STORE[i].used = 0;
  return ok();
}

static CMPIStatus exec_query(CMPIInstanceMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                             const CMPIObjectPath *op, const char *q, const char *l) {
  (void)mi; (void)ctx; (void)rslt; (void)op; (void)q; (void)l;
  return fail(CMPI_RC_ERR_NOT_SUPPORTED, "no queries");
}

static CMPIInstanceMIFT INST_FT = {
  CMPICurrentVersion, CMPICurrentVersion, "Test_C", cleanup_inst, enum_names, enum_insts, get_inst,
  create_inst, modify_inst, delete_inst, exec_query,
};
static CMPIInstanceMI INST_MI = {NULL, &INST_FT};

CMPIInstanceMI *Test_C_Create_InstanceMI(const CMPIBroker *mb, const CMPIContext *ctx, CMPIStatus *rc) {
  (void)ctx;
  if (!mb) return NULL;
  BROKER = mb;
  seed();
  if (rc) *rc = ok();
  return &INST_MI;
}

/* ---- Association MI: Test_Link (Antecedent a) -> (Dependent b, c) ---- */

static int is(const char *want, const char *got) { return got == NULL || strcmp(want, got) == 0; }

static CMPIInstance *link_of(const char *dependent) {
  CMPIObjectPath *lp = BROKER->eft->newObjectPath(BROKER, NS, "Test_Link", NULL);
  CMPIObjectPath *a = path_of("a"), *d = path_of(dependent);
  CMPIInstance *l;
  lp->ft->addKey(lp, "Antecedent", (const CMPIValue *)&a, CMPI_ref);
  lp->ft->addKey(lp, "Dependent", (const CMPIValue *)&d, CMPI_ref);
  l = BROKER->eft->newInstance(BROKER, lp, NULL);
  l->ft->setProperty(l, "Antecedent", (const CMPIValue *)&a, CMPI_ref);
  l->ft->setProperty(l, "Dependent", (const CMPIValue *)&d, CMPI_ref);
  return l;
}

static int from_a(const CMPIObjectPath *op) {
  int i = find(op);
  return i >= 0 && strcmp(STORE[i].name, "a") == 0;
}

static CMPIStatus cleanup_assoc(CMPIAssociationMI *mi, const CMPIContext *ctx, CMPIBoolean t) {
  (void)mi; (void)ctx; (void)t;
  return ok();
}

static CMPIStatus associators(CMPIAssociationMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                              const CMPIObjectPath *op, const char *assoc, const char *result_class,
                              const char *role, const char *result_role, const char **props) {
  int i;
  (void)mi; (void)ctx; (void)props;
  if (from_a(op) && is("Test_Link", assoc) && is("Test_Element", result_class) && is("Antecedent", role) &&
      is("Dependent", result_role))
    for (i = 0; i < MAXEL; i++)
      if (STORE[i].used && (!strcmp(STORE[i].name, "b") || !strcmp(STORE[i].name, "c")))
        rslt->ft->returnInstance(rslt, instance_of(i));
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus associator_names(CMPIAssociationMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                                   const CMPIObjectPath *op, const char *assoc, const char *result_class,
                                   const char *role, const char *result_role) {
  (void)mi; (void)ctx;
  if (from_a(op) && is("Test_Link", assoc) && is("Test_Element", result_class) && is("Antecedent", role) &&
      is("Dependent", result_role)) {
    rslt->ft->returnObjectPath(rslt, path_of("b"));
    rslt->ft->returnObjectPath(rslt, path_of("c"));
  }
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus references(CMPIAssociationMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                             const CMPIObjectPath *op, const char *result_class, const char *role,
                             const char **props) {
  (void)mi; (void)ctx; (void)props;
  if (from_a(op) && is("Test_Link", result_class) && is("Antecedent", role)) {
    rslt->ft->returnInstance(rslt, link_of("b"));
    rslt->ft->returnInstance(rslt, link_of("c"));
  }
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIStatus reference_names(CMPIAssociationMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                                  const CMPIObjectPath *op, const char *result_class, const char *role) {
  (void)mi; (void)ctx;
  if (from_a(op) && is("Test_Link", result_class) && is("Antecedent", role)) {
    CMPIInstance *l = link_of("b");
    rslt->ft->returnObjectPath(rslt, l->ft->getObjectPath(l, NULL));
  }
  rslt->ft->returnDone(rslt);
  return ok();
}

static CMPIAssociationMIFT ASSOC_FT = {
  CMPICurrentVersion, CMPICurrentVersion, "Test_C", cleanup_assoc, associators, associator_names,
  references, reference_names,
};
static CMPIAssociationMI ASSOC_MI = {NULL, &ASSOC_FT};

CMPIAssociationMI *Test_C_Create_AssociationMI(const CMPIBroker *mb, const CMPIContext *ctx, CMPIStatus *rc) {
  (void)ctx;
  BROKER = mb;
  seed();
  if (rc) *rc = ok();
  return &ASSOC_MI;
}

/* ---- broker services used from C: getMessage (varargs), memory, threads ---- */

static void *worker(void *arg) {
  const CMPIBrokerExtFT *x = BROKER->xft;
  int *counter = (int *)arg;
  x->threadSleep(1);
  *counter += 1;
  return (void *)counter;
}

/* Returns "" on success, else the name of the first check that failed. */
static const char *services(void) {
  CMPIStatus rc = {CMPI_RC_OK, NULL};
  const CMPIBrokerExtFT *x = BROKER->xft;
  const CMPIBrokerMemFT *m = BROKER->mft;
  CMPIString *msg = BROKER->eft->getMessage(BROKER, "XEN0001", "default message", &rc, 2, CMPI_chars, "a",
                                            CMPI_uint32, 7);
  CMPIGcStat *mark;
  char *p;
  int counter = 0;
  void *ret = NULL;
  CMPI_THREAD_TYPE t;
  CMPI_MUTEX_TYPE mx;
  CMPIArray *arr;
  CMPIUint64 big = 1;

  if (rc.rc != CMPI_RC_OK || strcmp(str(msg), "default message") != 0) return "getMessage";
  if (BROKER->bft->brokerVersion != CMPIVersion200) return "brokerVersion";
  mark = m->mark(BROKER, &rc);
  if (rc.rc != CMPI_RC_OK) return "mark";
  p = m->cmpiMalloc(BROKER, 64);
  strcpy(p, "scratch");
  p = m->cmpiRealloc(BROKER, p, 4096);
  if (strcmp(p, "scratch") != 0) return "cmpiRealloc";
  m->cmpiFree(BROKER, p);
  p = m->cmpiStrDup(BROKER, "dup");
  if (strcmp(p, "dup") != 0) return "cmpiStrDup";
  arr = BROKER->eft->newArray(BROKER, 2, CMPI_uint64, &rc);
  arr->ft->setElementAt(arr, 1, (const CMPIValue *)&big, CMPI_uint64);
  if (arr->ft->getElementAt(arr, 1, NULL).value.uint64 != 1) return "array";
  if (m->release(BROKER, mark).rc != CMPI_RC_OK) return "release";

  mx = x->newMutex(0);
  x->lockMutex(mx);
  t = x->newThread(worker, &counter, 0);
  if (!t) return "newThread";
  x->unlockMutex(mx);
  if (x->joinThread(t, &ret) != 0 || ret != &counter || counter != 1) return "joinThread";
  x->destroyMutex(mx);
  return "";
}

/* ---- Method MI ---- */

static CMPIStatus cleanup_method(CMPIMethodMI *mi, const CMPIContext *ctx, CMPIBoolean t) {
  (void)mi; (void)ctx; (void)t;
  return ok();
}

static CMPIStatus invoke(CMPIMethodMI *mi, const CMPIContext *ctx, const CMPIResult *rslt,
                         const CMPIObjectPath *op, const char *method, const CMPIArgs *in, CMPIArgs *out) {
  (void)mi;
  if (strcmp(method, "Echo") == 0) {
    CMPICount i, n = in->ft->getArgCount(in, NULL);
    for (i = 0; i < n; i++) {
      CMPIString *name = NULL;
      CMPIData d = in->ft->getArgAt(in, i, &name, NULL);
      const CMPIValue *v = (d.state & CMPI_nullValue) ? NULL : &d.value;
      CMPIStatus s = out->ft->addArg(out, str(name), v, d.type);
      if (s.rc != CMPI_RC_OK) return s;
    }
    rslt->ft->returnData(rslt, (const CMPIValue *)&n, CMPI_uint32);
    rslt->ft->returnDone(rslt);
    return ok();
  }
  if (strcmp(method, "Fire") == 0) {
    CMPIObjectPath *ip = BROKER->eft->newObjectPath(BROKER, NS, "Test_Indication", NULL);
    CMPIInstance *ind = BROKER->eft->newInstance(BROKER, ip, NULL);
    CMPIBoolean t = 1;
    CMPIData principal = ctx->ft->getEntry(ctx, "CMPIPrincipal", NULL);
    ind->ft->setProperty(ind, "Message", (const CMPIValue *)"fired from C", CMPI_chars);
    ind->ft->setProperty(ind, "Source", (const CMPIValue *)&op, CMPI_ref);
    ind->ft->setProperty(ind, "Active", (const CMPIValue *)&ACTIVE, CMPI_sint32);
    if (principal.type == CMPI_string && !(principal.state & CMPI_nullValue))
      ind->ft->setProperty(ind, "Principal", (const CMPIValue *)&principal.value.string, CMPI_string);
    {
      CMPIStatus s = BROKER->bft->deliverIndication(BROKER, ctx, NS, ind);
      if (s.rc != CMPI_RC_OK) return s;
    }
    rslt->ft->returnData(rslt, (const CMPIValue *)&t, CMPI_boolean);
    rslt->ft->returnDone(rslt);
    return ok();
  }
  if (strcmp(method, "Services") == 0) {
    const char *failed = services();
    if (*failed) return fail(CMPI_RC_ERR_FAILED, failed);
    rslt->ft->returnData(rslt, (const CMPIValue *)"ok", CMPI_chars);
    rslt->ft->returnDone(rslt);
    return ok();
  }
  return fail(CMPI_RC_ERR_METHOD_NOT_FOUND, method);
}

static CMPIMethodMIFT METHOD_FT = {CMPICurrentVersion, CMPICurrentVersion, "Test_C", cleanup_method, invoke};
static CMPIMethodMI METHOD_MI = {NULL, &METHOD_FT};

CMPIMethodMI *Test_C_Create_MethodMI(const CMPIBroker *mb, const CMPIContext *ctx, CMPIStatus *rc) {
  (void)ctx;
  BROKER = mb;
  seed();
  if (rc) *rc = ok();
  return &METHOD_MI;
}

/* ---- Indication MI ---- */

static CMPIStatus cleanup_ind(CMPIIndicationMI *mi, const CMPIContext *ctx, CMPIBoolean t) {
  (void)mi; (void)ctx; (void)t;
  return ok();
}
static CMPIStatus authorize(CMPIIndicationMI *mi, const CMPIContext *ctx, const CMPISelectExp *f,
                            const char *cls, const CMPIObjectPath *op, const char *owner) {
  (void)mi; (void)ctx; (void)f; (void)cls; (void)op;
  return strcmp(owner, "mallory") ? ok() : fail(CMPI_RC_ERR_ACCESS_DENIED, "no");
}
static CMPIStatus must_poll(CMPIIndicationMI *mi, const CMPIContext *ctx, const CMPISelectExp *f,
                            const char *cls, const CMPIObjectPath *op) {
  (void)mi; (void)ctx; (void)f; (void)cls; (void)op;
  return fail(CMPI_RC_ERR_NOT_SUPPORTED, "no polling");
}
static CMPIStatus activate(CMPIIndicationMI *mi, const CMPIContext *ctx, const CMPISelectExp *f,
                           const char *cls, const CMPIObjectPath *op, CMPIBoolean first) {
  CMPIString *q = f->ft->getString(f, NULL);
  (void)mi; (void)ctx; (void)cls; (void)op; (void)first;
  if (!q || strncmp(str(q), "SELECT", 6) != 0) return fail(CMPI_RC_ERR_INVALID_QUERY, "bad filter");
  ACTIVE++;
  return ok();
}
static CMPIStatus deactivate(CMPIIndicationMI *mi, const CMPIContext *ctx, const CMPISelectExp *f,
                             const char *cls, const CMPIObjectPath *op, CMPIBoolean last) {
  (void)mi; (void)ctx; (void)f; (void)cls; (void)op; (void)last;
  ACTIVE--;
  return ok();
}
static CMPIStatus enable(CMPIIndicationMI *mi, const CMPIContext *ctx) { (void)mi; (void)ctx; return ok(); }
static CMPIStatus disable(CMPIIndicationMI *mi, const CMPIContext *ctx) { (void)mi; (void)ctx; return ok(); }

/* ftVersion 200: a lower version makes SFCB use the pre-1.0 enable/disable convention. */
static CMPIIndicationMIFT IND_FT = {
  CMPIVersion200, CMPIVersion200, "Test_C", cleanup_ind, authorize, must_poll, activate, deactivate, enable, disable,
};
static CMPIIndicationMI IND_MI = {NULL, &IND_FT};

CMPIIndicationMI *Test_C_Create_IndicationMI(const CMPIBroker *mb, const CMPIContext *ctx, CMPIStatus *rc) {
  (void)ctx;
  BROKER = mb;
  if (rc) *rc = ok();
  return &IND_MI;
}

/* ---- "Test_COld": an indication MI in the pre-1.0 convention (ftVersion 90),
 * whose enable/disableIndications return nothing. ---- */

static int OLD_ENABLED;
static void old_enable(CMPIIndicationMI *mi, const CMPIContext *ctx) { (void)mi; (void)ctx; OLD_ENABLED = 1; }
static void old_disable(CMPIIndicationMI *mi, const CMPIContext *ctx) { (void)mi; (void)ctx; OLD_ENABLED = 0; }
typedef CMPIStatus (*EnableFn)(CMPIIndicationMI *, const CMPIContext *);

static CMPIIndicationMIFT OLD_IND_FT = {
  90, 90, "Test_COld", cleanup_ind, authorize, must_poll, activate, deactivate, NULL, NULL,
};
static CMPIIndicationMI OLD_IND_MI = {NULL, &OLD_IND_FT};

CMPIIndicationMI *Test_COld_Create_IndicationMI(const CMPIBroker *mb, const CMPIContext *ctx, CMPIStatus *rc) {
  (void)ctx;
  BROKER = mb;
  OLD_IND_FT.enableIndications = (EnableFn)(void (*)(void))old_enable;
  OLD_IND_FT.disableIndications = (EnableFn)(void (*)(void))old_disable;
  if (rc) *rc = ok();
  return &OLD_IND_MI;
}

/* For the test: whether the old-style MI is enabled. */
int test_c_old_enabled(void) { return OLD_ENABLED; }
