/// Where a ``Listener`` listens and ``Connection/connect(to:authKey:)`` connects: Python's
/// `multiprocessing.connection` address, a path (`AF_UNIX`) or a host and port (`AF_INET`).
public enum ConnectionAddress: Sendable, Hashable, Codable, CustomStringConvertible {
  /// A Unix-domain socket at `path` in the file system (at most 107 bytes).
  case unix(path: String)
  /// A Unix-domain socket named `name` in Linux's abstract namespace (at most 106 bytes): no
  /// file is made, and the name is gone when the listener closes, even a killed one's.
  /// Python's address `'\0' + name`.
  case abstract(name: String)
  /// TCP on `host` (a name or an IPv4 or IPv6 address) and `port`; port 0 lets the listener
  /// pick a free one, which its ``Listener/address`` then names.
  case tcp(host: String, port: Int)

  /// The loopback interface on a port the system picks: what a listener for this machine's
  /// processes needs.
  public static var loopback: ConnectionAddress { .tcp(host: "127.0.0.1", port: 0) }

  /// The path, `@name` for an abstract name, or `host:port`.
  public var description: String {
    switch self {
    case .unix(let path): path
    case .abstract(let name): "@" + name
    case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
  }
}
