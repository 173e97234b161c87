import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// A socket that accepts ``Connection``s: Python's `multiprocessing.connection.Listener`, on a
/// Unix-domain path or on TCP, with Python's framing and authentication so that either end
/// may be Python's (`multiprocessing.connection.Client` or `Listener`).
///
/// With an `authKey`, each accepted connection must prove it holds the same key (an HMAC
/// challenge in both directions, see ``Connection/connect(to:authKey:)``) before ``accept()``
/// returns it; one that fails is closed and ``accept()`` throws
/// ``ConnectionError/authenticationFailed(_:)`` — the listener goes on, and the next call
/// accepts the next connection. Without a key, anyone who can reach the address connects:
/// keep TCP listeners on the loopback unless a key guards them.
///
/// A socket connection crosses a fork (a forked child uses the descriptors it inherited); a
/// spawned child connects itself instead of reopening it from a handle.
///
/// ```swift
/// let listener = try Listener(.loopback, authKey: Array("secret".utf8))
/// let client = Process { [address = listener.address] in
///   let connection = try Connection.connect(to: address, authKey: Array("secret".utf8))
///   try connection.sendBytes(Array("hello".utf8))
/// }
/// try client.start()
/// let connection = try listener.accept()
/// print(String(decoding: try connection.recvBytes(), as: UTF8.self))   // hello
/// ```
public final class Listener: @unchecked Sendable {
  // @unchecked: the socket is set once; `isClosed` is guarded by `lock`; accept and close may
  // run on different threads (close shuts the socket down, which wakes an accept).

  /// Where the listener listens: the port the system picked for a TCP address of port 0.
  public let address: ConnectionAddress
  private let authKey: [UInt8]?
  private let socket: FileDescriptor
  private let lock = NSLock()
  private var isClosed = false

  /// Listens on `address` (the loopback on a free port by default), with a queue of
  /// `backlog` connections not yet accepted. With `authKey`, every connection must prove it
  /// holds the key.
  ///
  /// - Throws: ``ConnectionError/system(call:errno:)``: `EADDRINUSE` for an address (or a
  ///   path) in use, `ENAMETOOLONG` for a path over 107 bytes, `EADDRNOTAVAIL` for a host
  ///   that does not resolve; ``ConnectionError/authenticationFailed(_:)`` for an empty key.
  public init(
    _ address: ConnectionAddress = .loopback, backlog: Int = 16, authKey: [UInt8]? = nil
  ) throws(ConnectionError) {
    if let authKey, authKey.isEmpty { throw .authenticationFailed("an empty authentication key protects nothing") }
    var port: Int32 = 0
    let descriptor: Int32
    switch address {
    case .unix(let path): descriptor = cs_listen_stream(nil, 0, path, 0, Int32(clamping: backlog), &port)
    case .abstract(let name): descriptor = cs_listen_stream(nil, 0, name, 1, Int32(clamping: backlog), &port)
    case .tcp(let host, let requested):
      descriptor = cs_listen_stream(host, Int32(clamping: requested), nil, 0, Int32(clamping: backlog), &port)
    }
    guard descriptor >= 0 else { throw .system(call: "listen", errno: Errno(rawValue: -descriptor)) }
    socket = FileDescriptor(rawValue: descriptor)
    if case .tcp(let host, _) = address {
      self.address = .tcp(host: host, port: Int(port))
    } else {
      self.address = address
    }
    self.authKey = authKey
  }

  deinit {
    close()
    socket.release()
  }

  /// Waits for the next connection and returns it, once it proved it holds the key when the
  /// listener has one.
  ///
  /// - Throws: ``ConnectionError/authenticationFailed(_:)`` for a connection without the key
  ///   (it is closed; call again for the next), ``ConnectionError/closed`` once ``close()``
  ///   was called (also by another thread while this one waits), or
  ///   ``ConnectionError/system(call:errno:)``.
  public func accept() throws(ConnectionError) -> Connection {
    guard !lock.withLock({ isClosed }) else { throw .closed }
    let descriptor = cs_accept_stream(socket.rawValue)
    guard descriptor >= 0 else {
      if lock.withLock({ isClosed }) { throw .closed }
      throw .system(call: "accept", errno: Errno(rawValue: -descriptor))
    }
    let connection = try Connection(socket: FileDescriptor(rawValue: descriptor))
    if let authKey { try ConnectionAuthentication.handshake(on: connection, key: authKey, asListener: true) }
    return connection
  }

  /// Stops listening (a Unix-domain path is removed); connections accepted stay open.
  /// Again: nothing.
  public func close() {
    let wasOpen = lock.withLock {
      defer { isClosed = true }
      return !isClosed
    }
    guard wasOpen else { return }
    // Wakes an accept waiting on another thread; the descriptor itself is closed with the
    // listener, so that its number cannot be reused under that accept.
    _ = shutdown(socket.rawValue, Int32(SHUT_RDWR))
    if case .unix(let path) = address { unlink(path) }
  }
}
