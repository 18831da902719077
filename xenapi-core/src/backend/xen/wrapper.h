/* What bindgen reads for the libxl backend; build.rs allow-lists the items used. */
#include <stdio.h>
#include <stdarg.h>
#include <xentoollog.h>
#include <libxl.h>
#include <libxl_utils.h>
