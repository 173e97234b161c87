import CSystemShims
import Foundation

/// What a proxy asks the manager's server, as one ``Connection`` message.
///
/// Requests and replies are coded by hand, a tag and then the fields in order: the synthesised
/// coding of an enum finds its case through a keyed container's `allKeys`, a cast of an array
/// of keys for every message (the first in a process a scan of every conformance record of
/// the program).
enum ManagerRequest: Codable, Sendable {
  /// Makes an object of a kind (`dict`, `list`, `namespace`, `lock`, `queue`, or a registered
  /// type's name); the reply holds its id.
  case create(kind: String, arguments: [Data])
  /// Runs a method of an object.
  case call(object: Int, method: String, arguments: [Data])
  /// Ends the server.
  case shutdown

  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    switch try fields.decode(UInt8.self) {
    case 0: self = .create(kind: try fields.decode(String.self), arguments: try fields.decode([Data].self))
    case 1:
      self = .call(
        object: try fields.decode(Int.self), method: try fields.decode(String.self),
        arguments: try fields.decode([Data].self))
    case 2: self = .shutdown
    case let tag:
      throw DecodingError.dataCorruptedError(in: fields, debugDescription: "no manager request has the tag \(tag)")
    }
  }

  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    switch self {
    case .create(let kind, let arguments):
      try fields.encode(UInt8(0))
      try fields.encode(kind)
      try fields.encode(arguments)
    case .call(let object, let method, let arguments):
      try fields.encode(UInt8(1))
      try fields.encode(object)
      try fields.encode(method)
      try fields.encode(arguments)
    case .shutdown: try fields.encode(UInt8(2))
    }
  }
}

/// The server's answer: the method's results, encoded, or the error it threw (coded by hand,
/// as ``ManagerRequest`` is).
enum ManagerReply: Codable, Sendable {
  case done([Data])
  case failed(ManagerError)

  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    switch try fields.decode(UInt8.self) {
    case 0: self = .done(try fields.decode([Data].self))
    case 1: self = .failed(try fields.decode(ManagerError.self))
    case let tag:
      throw DecodingError.dataCorruptedError(in: fields, debugDescription: "no manager reply has the tag \(tag)")
    }
  }

  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    switch self {
    case .done(let results):
      try fields.encode(UInt8(0))
      try fields.encode(results)
    case .failed(let error):
      try fields.encode(UInt8(1))
      try fields.encode(error)
    }
  }
}

/// Values in and out of the server's messages, in `BinaryEncoder`'s form.
enum ManagerCoding {
  static func encode<T: Encodable>(_ value: T) throws(ManagerError) -> Data {
    do { return try BinaryEncoder().encode(value) } catch { throw .coding("\(error)") }
  }

  static func decode<T: Decodable>(_ data: Data, as _: T.Type = T.self) throws(ManagerError) -> T {
    do { return try BinaryDecoder().decode(T.self, from: data) } catch { throw .coding("\(error)") }
  }

  /// The one result a method returns.
  static func single<T: Decodable>(_ results: [Data], as _: T.Type = T.self) throws(ManagerError) -> T {
    guard results.count == 1 else { throw .coding("expected one result, got \(results.count)") }
    return try decode(results[0], as: T.self)
  }

  /// The result a method returns when it has one (none: nil).
  static func optional<T: Decodable>(_ results: [Data], as _: T.Type = T.self) throws(ManagerError) -> T? {
    guard let first = results.first else { return nil }
    return try decode(first, as: T.self)
  }

  /// An optional timeout as a method's argument: nanoseconds, or nil for none.
  static func timeout(_ timeout: Duration?) throws(ManagerError) -> Data {
    try encode(timeout.map { max($0, .zero) / .nanoseconds(1) }.map { Int64($0) })
  }

  /// The deadline a timeout argument sets, or nil for none.
  static func deadline(_ argument: Data) throws(ManagerError) -> Date? {
    try decode(argument, as: Int64?.self).map { Date(timeIntervalSinceNow: Double($0) / 1e9) }
  }
}

/// A proxy's connection to the manager's server: one call at a time.
final class ManagerLink: @unchecked Sendable {
  // @unchecked: `connection` and `generation` are only used with `lock` held.
  /// The manager this link reaches.
  let manager: Manager.Handle
  private var connection: Connection
  /// Resets itself in a forked child, where a thread of the parent may have held it.
  private let lock = ForkSafeLock()
  /// The fork generation `connection` was made in: a forked child has a copy of the socket,
  /// shared with its parent, and connects again rather than interleave its messages with
  /// the parent's.
  private var generation = cs_fork_generation()

  /// Connects to the manager's server, proving the key.
  init(_ manager: Manager.Handle) throws(ManagerError) {
    self.manager = manager
    connection = try Self.connect(manager)
  }

  deinit { connection.close() }

  private static func connect(_ manager: Manager.Handle) throws(ManagerError) -> Connection {
    do { return try Connection.connect(to: manager.address, authKey: manager.authKey) } catch {
      throw .server("cannot connect to \(manager.address): \(error)")
    }
  }

  /// Sends `request` and returns the results of the reply.
  ///
  /// - Throws: the server's error, or ``ManagerError/server(_:)`` when the connection fails.
  func call(_ request: ManagerRequest) throws(ManagerError) -> [Data] {
    try lock.withLock { () throws(ManagerError) -> [Data] in
      if generation != cs_fork_generation() {
        // A forked child: a connection of its own (the copy's descriptor is closed, not shut
        // down, so the parent's connection goes on).
        connection.close()
        connection = try Self.connect(manager)
        generation = cs_fork_generation()
      }
      return try exchange(request)
    }
  }

  /// Sends `request` and reads the reply, with the lock held.
  private func exchange(_ request: ManagerRequest) throws(ManagerError) -> [Data] {
    let reply: ManagerReply
    do {
      try connection.send(request)
      reply = try connection.recv(ManagerReply.self)
    } catch {
      throw .server("the connection failed: \(error)")
    }
    switch reply {
    case .done(let results): return results
    case .failed(let error): throw error
    }
  }

  /// Runs `method` of object `object` with encoded `arguments`.
  func call(_ object: Int, _ method: String, _ arguments: [Data] = []) throws(ManagerError) -> [Data] {
    try call(.call(object: object, method: method, arguments: arguments))
  }

  /// Makes an object of `kind` and returns its id.
  func create(_ kind: String, _ arguments: [Data] = []) throws(ManagerError) -> Int {
    try ManagerCoding.single(call(.create(kind: kind, arguments: arguments)), as: Int.self)
  }
}
