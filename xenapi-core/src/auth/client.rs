//! Who is asking to be authenticated, for the per-client limits of [`super::throttle`].
//!
//! The HTTP front ends know the peer address of a connection; the code that checks passwords
//! runs deep inside a request (a XenAPI handler, the CIM broker's authenticator) whose
//! signatures carry no address. The front end therefore runs each request inside [`scope`], a
//! task-local value that [`current`] reads: nothing between the two has to pass it on.

use std::net::IpAddr;

/// A client as the limits see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address, or the /64 network of an IPv6 address: one host usually has a whole
    /// /64, so counting single IPv6 addresses would give it billions of fresh records.
    Ip(IpAddr),
    /// The Unix socket (only this server's user can reach it) or a caller with no address.
    Local,
}

impl Client {
    pub fn from_ip(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::Ip(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Ip(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Client::Ip(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Ip(ip @ IpAddr::V6(_)) => write!(f, "{ip}/64"),
            Client::Ip(ip) => write!(f, "{ip}"),
            Client::Local => f.write_str("local"),
        }
    }
}

tokio::task_local! {
    static CURRENT: Client;
}

/// Runs `fut` (one request) as coming from `client`.
pub async fn scope<F: std::future::Future>(client: Client, fut: F) -> F::Output {
    CURRENT.scope(client, fut).await
}

/// The client of the request being handled; [`Client::Local`] outside any [`scope`] (in-process
/// callers such as tests).
pub fn current() -> Client {
    CURRENT.try_with(|c| *c).unwrap_or(Client::Local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_their_64_and_mapped_ipv4_is_ipv4() {
        let a = Client::from_ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Client::from_ip("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = Client::from_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(Client::from_ip("::ffff:127.0.0.1".parse().unwrap()), Client::from_ip("127.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn the_scope_is_seen_inside_and_local_outside() {
        let ip = Client::from_ip("192.0.2.7".parse().unwrap());
        assert_eq!(scope(ip, async { current() }).await, ip);
        assert_eq!(current(), Client::Local);
    }
}
