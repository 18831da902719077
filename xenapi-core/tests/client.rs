//! The XenAPI client against the real server, in process: TCP, TLS and the Unix socket, typed
//! records, API errors, keep-alive, reconnection and re-login.

mod support;

use std::sync::Arc;
use support::{map, vm_fields, TestServer, GIB, PASSWORD};
use xenapi_client::{Client, ClientError, Session};
use xenapi_core::rpc::Wire;
use xenapi_core::Value;

async fn login(url: &str) -> Session {
    let client = Client::connect(url).await.expect("connect");
    client.login("root", PASSWORD, "client-tests").await.expect("login")
}

#[tokio::test]
async fn tcp_login_and_typed_records_of_host_pool_and_vm() {
    let srv = TestServer::start().await;
    let s = login(&srv.http_url()).await;
    assert!(s.session_ref().starts_with("OpaqueRef:"));

    let hosts = s.get_all_records("host").await.unwrap();
    assert_eq!(hosts.len(), 1);
    let (host, h) = &hosts[0];
    assert!(matches!(h.get("API_version_major"), Some(Value::Int(_))), "ints come back typed: {:?}", h.get("API_version_major"));
    assert!(matches!(h.get("enabled"), Some(Value::Bool(_))));

    let pools = s.get_all_records("pool").await.unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].1.str("master"), host.as_str());

    let vms = s.get_all_records("VM").await.unwrap();
    let dom0 = vms.iter().find(|(_, r)| r.bool("is_control_domain") == Some(true)).expect("dom0 is listed");
    assert_eq!(dom0.1.str("power_state"), "Running");
    assert_eq!(dom0.1.int("domid"), Some(0));
    assert_eq!(s.get_record("VM", &dom0.0).await.unwrap(), dom0.1, "get_record agrees with get_all_records");
    assert_eq!(s.get_all("VM").await.unwrap().len(), vms.len());
    assert!(s.client().list_methods().await.unwrap().iter().any(|m| m == "VM.get_record"));
    s.logout().await.unwrap();
    srv.stop().await;
}

#[tokio::test]
async fn created_vm_reads_back_typed_field_by_field() {
    let srv = TestServer::start().await;
    let s = login(&srv.http_url()).await;
    let fields = vm_fields("vm1");
    let vm = s.create("VM", fields.clone()).await.unwrap();
    assert!(vm.starts_with("OpaqueRef:"));

    let rec = s.get_record("VM", &vm).await.unwrap();
    assert_eq!(rec.class(), "VM");
    for (k, v) in &fields {
        assert_eq!(rec.get(k), Some(v), "field {k}");
    }
    assert_eq!(rec.str("power_state"), "Halted");
    assert_eq!(rec.get("snapshot_time"), Some(&Value::DateTime(0)));
    assert_eq!(rec.str("suspend_VDI"), "OpaqueRef:NULL");
    assert!(rec.str("metrics").starts_with("OpaqueRef:") && rec.str("metrics") != "OpaqueRef:NULL");
    let all = s.get_all_records("VM").await.unwrap();
    assert_eq!(all.iter().find(|(r, _)| *r == vm).map(|(_, r)| r), Some(&rec));

    assert_eq!(s.get_field("VM", &vm, "memory_static_max").await.unwrap(), Value::Int(4 * GIB));
    s.set_field("VM", &vm, "name_label", Value::str("renamed")).await.unwrap();
    assert_eq!(s.get_field("VM", &vm, "name_label").await.unwrap(), Value::str("renamed"));
    s.set_field("VM", &vm, "other_config", map(&[("k", "v")])).await.unwrap();
    assert_eq!(s.get_record("VM", &vm).await.unwrap().get("other_config"), Some(&map(&[("k", "v")])));

    // The model catches mistakes before anything is sent.
    let e = s.set_field("VM", &vm, "power_state", Value::str("Running")).await.unwrap_err();
    assert!(matches!(e, ClientError::Model(_)), "{e}");
    let e = s.create("VM", vec![("no_such_field".into(), Value::str("x"))]).await.unwrap_err();
    assert!(matches!(e, ClientError::Model(_)), "{e}");
    assert!(matches!(s.get_record("Nope", &vm).await.unwrap_err(), ClientError::Model(_)));
    // ... and the server catches what only it can know.
    let e = s.create("VM", vec![("name_label".into(), Value::str("incomplete"))]).await.unwrap_err();
    assert!(e.is_api("FIELD_TYPE_ERROR"), "{e}");

    s.destroy("VM", &vm).await.unwrap();
    assert!(s.get_record("VM", &vm).await.unwrap_err().is_api("HANDLE_INVALID"));
    srv.stop().await;
}

#[tokio::test]
async fn api_errors_carry_code_and_parameters() {
    let srv = TestServer::start().await;
    let client = Client::connect(&srv.http_url()).await.unwrap();
    let e = client.login("root", "wrong", "client-tests").await.unwrap_err();
    assert!(e.is_api("SESSION_AUTHENTICATION_FAILED") && !e.is_transport(), "{e}");

    let s = client.login("root", PASSWORD, "client-tests").await.unwrap();
    let e = s.get_record("VM", "OpaqueRef:nonexistent").await.unwrap_err();
    assert_eq!(e.api().unwrap().params, ["VM", "OpaqueRef:nonexistent"]);
    assert!(e.is_api("HANDLE_INVALID"));

    let e = s.call("VM.get_record", vec![]).await.unwrap_err();
    assert!(e.is_api("MESSAGE_PARAMETER_COUNT_MISMATCH"), "{e}");
    assert_eq!(e.api().unwrap().params, ["VM.get_record", "1", "0"]);
    assert!(s.call("VM.no_such_message", vec![]).await.unwrap_err().is_api("MESSAGE_METHOD_UNKNOWN"));

    // After logout the ref is dead, and the session does not log in again behind our back.
    let old = s.session_ref();
    s.logout().await.unwrap();
    let e = client.call("VM.get_all", &[Value::str(old.as_str())]).await.unwrap_err();
    assert_eq!(e.api().unwrap().params, [old.as_str()]);
    assert!(e.is_api("SESSION_INVALID"));
    assert!(s.call("VM.get_all", vec![]).await.unwrap_err().is_api("SESSION_INVALID"));
    assert_eq!((s.relogins(), s.session_ref()), (0, old));

    // Not an API error: the server refuses a malformed body at the HTTP level.
    let (status, _) = client.post("/", "text/xml", "<methodCall>").await.unwrap();
    assert_eq!(status, 400);
    srv.stop().await;
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_concurrent_tasks_share_the_pool() {
    let srv = TestServer::start().await;
    let s = Arc::new(login(&srv.http_url()).await);
    for _ in 0..50 {
        s.call("pool.get_all", vec![]).await.unwrap();
    }
    assert_eq!(s.client().connections_opened(), 1, "login and 50 calls on one connection");

    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    s.get_all("host").await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let opened = s.client().connections_opened();
    assert!((1..=4).contains(&opened), "at most one connection per concurrent task, got {opened}");
    srv.stop().await;
}

#[tokio::test]
async fn reconnects_when_the_server_closed_the_connection() {
    let srv = TestServer::start().await;
    let port = srv.tcp;
    let s = login(&srv.http_url()).await;
    let unix = login(&srv.unix_url()).await;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let before = sorted(s.get_all("VM").await.unwrap());
    unix.get_all("VM").await.unwrap();

    // A restart closes every kept-alive connection; sessions survive it (they are stored).
    let dir = srv.stop().await;
    let srv = TestServer::start_in(dir, Some(port), |_| {}).await;
    assert_eq!(sorted(s.get_all("VM").await.unwrap()), before);
    unix.get_all("VM").await.unwrap();
    assert_eq!(s.client().connections_opened(), 2);
    assert_eq!(unix.client().connections_opened(), 2);
    assert_eq!(s.relogins() + unix.relogins(), 0);
    srv.stop().await;
}

#[tokio::test]
async fn logs_in_again_once_when_the_server_forgot_the_session() {
    let srv = TestServer::start().await;
    let s = Arc::new(login(&srv.unix_url()).await);
    let first = s.session_ref();
    srv.xapi.sessions.logout(&srv.xapi.store, &first);

    // Several tasks notice at once; one logs in, the others reuse its session.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.get_all("pool").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 1);
    }
    assert_eq!(s.relogins(), 1);
    assert_ne!(s.session_ref(), first);

    // With re-login off, SESSION_INVALID is the caller's to handle.
    s.set_relogin(false);
    srv.xapi.sessions.logout(&srv.xapi.store, &s.session_ref());
    assert!(s.get_all("pool").await.unwrap_err().is_api("SESSION_INVALID"));
    assert_eq!(s.relogins(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn tls_trusts_the_given_certificate_or_explicitly_anything() {
    let srv = TestServer::start().await;
    let url = srv.https_url();
    let pinned = Client::builder(&url).ca_pem(srv.cert_pem.clone()).connect().await.unwrap();
    let s = pinned.login("root", PASSWORD, "client-tests").await.unwrap();
    assert_eq!(s.get_all_records("pool").await.unwrap().len(), 1);
    assert_eq!(pinned.connections_opened(), 1);

    let any = Client::builder(&url).danger_accept_invalid_certs().connect().await.unwrap();
    assert!(any.login("root", PASSWORD, "client-tests").await.is_ok());

    // A self-signed certificate is not in any CA bundle.
    let e = Client::connect(&url).await.unwrap_err();
    assert!(matches!(e, ClientError::Tls(_)) && e.is_transport(), "{e}");
    // Another certificate pins nothing.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap().cert.pem();
    let e = Client::builder(&url).ca_pem(other).connect().await.unwrap_err();
    assert!(matches!(e, ClientError::Tls(_)), "{e}");
    srv.stop().await;
}

#[tokio::test]
async fn event_from_returns_the_snapshot_and_a_token() {
    let srv = TestServer::start().await;
    let s = login(&srv.unix_url()).await;
    let Wire::Struct(batch) = s.event_from(&["pool"], "", 0.0).await.unwrap() else { panic!("not a struct") };
    let get = |k: &str| batch.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(Wire::Array(events)) = get("events") else { panic!("no events: {batch:?}") };
    assert_eq!(events.len(), 1, "one pool: {events:?}");
    assert!(matches!(get("token"), Some(Wire::Str(t)) if !t.is_empty()));
    srv.stop().await;
}

#[tokio::test]
async fn jsonrpc_round_trip_with_a_raw_request() {
    let srv = TestServer::start().await;
    let client = Client::connect(&srv.http_url()).await.unwrap();
    let post = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            let (status, answer) = client.post("/jsonrpc", "application/json", body.to_string()).await.unwrap();
            assert_eq!(status, 200);
            serde_json::from_slice::<serde_json::Value>(&answer).unwrap()
        }
    };
    let r = post(serde_json::json!({"jsonrpc": "2.0", "method": "session.login_with_password",
        "params": ["root", PASSWORD, "2.21", "client-tests"], "id": 1}))
    .await;
    let session = r["result"].as_str().expect("session ref").to_string();
    assert_eq!(r["id"], 1);

    let r = post(serde_json::json!({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [session], "id": "two"})).await;
    let dom0 = r["result"].as_object().unwrap().values().find(|v| v["is_control_domain"] == true).unwrap();
    assert!(dom0["memory_static_max"].is_i64(), "JSON-RPC ints are numbers: {}", dom0["memory_static_max"]);
    assert_eq!(r["id"], "two");

    let r = post(serde_json::json!({"method": "VM.get_record", "params": [session, "OpaqueRef:x"], "id": 3})).await;
    assert_eq!(r["error"], serde_json::json!(["HANDLE_INVALID", "VM", "OpaqueRef:x"]));
    // The session made over JSON-RPC works over XML-RPC too.
    assert!(client.call("pool.get_all", &[Value::str(session.as_str())]).await.is_ok());
    srv.stop().await;
}
