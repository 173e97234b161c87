import Foundation
import SystemCalls
import SystemPackage

/// What a spawned or fork-server child needs to become its ``Process``, in ``BinaryEncoder``'s
/// form (JSON's decoder cost a fork-server child a third of its page faults): a spawned child
/// reads it from a memfd, a fork server from its request (``ForkserverRequest``).
struct ChildDescription: Codable, Sendable {
  /// The registered entry point to run.
  var entryPoint: String
  /// Its arguments, encoded by ``EntryPoint``.
  var arguments: Data
  /// The process's name.
  var name: String
  /// The process's identity (`[1, 2]` for `Process-1:2`).
  var identity: [Int]
  /// Whether the process is a daemon.
  var daemon: Bool
  /// The start method the process was created with, if one was given.
  var startMethod: StartMethod?
  /// The pid of the process that started it (for a fork-server child, the server's client).
  var parentPid: Int32
  /// The name of that process.
  var parentName: String

  /// The description in ``BinaryEncoder``'s form.
  func encoded() throws(ProcessError) -> Data {
    do { return try BinaryEncoder().encode(self) } catch {
      throw .arguments(entryPoint: entryPoint, reason: "the child's description cannot be encoded: \(error)")
    }
  }

  /// The description written to a new memfd, ready to hand to a child.
  func memfd() throws(ProcessError) -> FileDescriptor {
    try Self.memfd(holding: encoded())
  }

  /// A new memfd holding `bytes`, an encoded description.
  static func memfd(holding bytes: Data) throws(ProcessError) -> FileDescriptor {
    do { return try SystemCall.memoryFile(named: "mp-child", holding: bytes) } catch {
      throw .system(call: "memfd_create", errno: error)
    }
  }

  /// Reads a description from a descriptor (positioned at its start) and closes it.
  static func read(from fd: FileDescriptor) throws -> ChildDescription {
    defer { fd.release() }
    return try BinaryDecoder().decode(ChildDescription.self, from: fd.readToEnd())
  }
}

extension ChildDescription {
  /// Decodes the fields in order, as ``encode(to:)`` wrote them.
  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    entryPoint = try fields.decode(String.self)
    arguments = try fields.decode(Data.self)
    name = try fields.decode(String.self)
    identity = try fields.decode([Int].self)
    daemon = try fields.decode(Bool.self)
    startMethod = try fields.decodeIfPresent(StartMethod.self)
    parentPid = try fields.decode(Int32.self)
    parentName = try fields.decode(String.self)
  }

  /// Encodes the fields in order, without keys: a fork server or template decodes one per
  /// child, and a template is new with each pool, so the keyed containers' generic code was
  /// page faults at each pool's first worker (and a conformance scan in the parent).
  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(entryPoint)
    try fields.encode(arguments)
    try fields.encode(name)
    try fields.encode(identity)
    try fields.encode(daemon)
    try fields.encodePresent(startMethod)
    try fields.encode(parentPid)
    try fields.encode(parentName)
  }
}
