import CSystemShims
import SystemPackage

extension Connection {
  /// Connects to a ``Listener`` (or to Python's `multiprocessing.connection.Listener`) at
  /// `address`: Python's `multiprocessing.connection.Client`.
  ///
  /// With `authKey`, this end answers the listener's challenge and then challenges it in
  /// turn, so that each proves to the other that it holds the key; the listener must have
  /// the same key.
  ///
  /// - Throws: ``ConnectionError/authenticationFailed(_:)`` when the keys differ or one side
  ///   has none, ``ConnectionError/system(call:errno:)`` (`ECONNREFUSED` when nothing
  ///   listens, `ENOENT` for a path that does not exist).
  public static func connect(to address: ConnectionAddress, authKey: [UInt8]? = nil) throws(ConnectionError)
    -> Connection
  {
    if let authKey, authKey.isEmpty { throw .authenticationFailed("an empty authentication key protects nothing") }
    let descriptor: Int32
    switch address {
    case .unix(let path): descriptor = cs_connect_stream(nil, 0, path, 0)
    case .abstract(let name): descriptor = cs_connect_stream(nil, 0, name, 1)
    case .tcp(let host, let port): descriptor = cs_connect_stream(host, Int32(clamping: port), nil, 0)
    }
    guard descriptor >= 0 else { throw .system(call: "connect", errno: Errno(rawValue: -descriptor)) }
    let connection = try Connection(socket: FileDescriptor(rawValue: descriptor))
    if let authKey { try ConnectionAuthentication.handshake(on: connection, key: authKey, asListener: false) }
    return connection
  }
}
