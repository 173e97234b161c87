import Foundation

/// Named `Codable` values held by a ``Manager``'s server: Python's `manager.Namespace()`,
/// whose attributes every process that has its handle sees and sets.
///
/// ```swift
/// let manager = try Manager()
/// let settings = try manager.namespace()
/// try settings.set("rate", to: 0.5)
/// print(try settings.value("rate", as: Double.self))   // 0.5
/// ```
public final class ManagedNamespace: Sendable {
  /// What another process reopens the namespace from.
  public typealias Handle = ManagedHandle<ManagedNamespace>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the namespace from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the namespace.
  public var handle: Handle { core.handle() }

  /// Sets `name` to `value` (Python's `ns.name = value`).
  public func set<Value: Encodable>(_ name: String, to value: Value) throws(ManagerError) {
    _ = try core.call("set", [ManagerCoding.encode(name), ManagerCoding.encode(value)])
  }

  /// The value of `name` (Python's `ns.name`), decoded as `type`.
  ///
  /// - Throws: ``ManagerError/nameNotFound(_:)``; ``ManagerError/coding(_:)`` when it was
  ///   set as another type.
  public func value<Value: Decodable>(_ name: String, as type: Value.Type = Value.self) throws(ManagerError) -> Value {
    try ManagerCoding.single(core.call("get", [ManagerCoding.encode(name)]))
  }

  /// Removes `name` (Python's `del ns.name`).
  ///
  /// - Throws: ``ManagerError/nameNotFound(_:)``.
  public func remove(_ name: String) throws(ManagerError) {
    _ = try core.call("delete", [ManagerCoding.encode(name)])
  }

  /// The names set, sorted.
  public var names: [String] {
    get throws(ManagerError) { try ManagerCoding.single(core.call("names")) }
  }
}

/// A ``ManagedNamespace`` on the server: encoded values by name.
final class ServedNamespace: ServedObject, @unchecked Sendable {
  // @unchecked: `values` is only used with `lock` held.
  private let lock = NSLock()
  private var values: [String: Data] = [:]

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    lock.lock()
    defer { lock.unlock() }
    switch method {
    case "set":
      values[try ManagerCoding.decode(try argument(arguments, 0), as: String.self)] = try argument(arguments, 1)
      return []
    case "get":
      let name = try ManagerCoding.decode(try argument(arguments, 0), as: String.self)
      guard let value = values[name] else { throw .nameNotFound(name) }
      return [value]
    case "delete":
      let name = try ManagerCoding.decode(try argument(arguments, 0), as: String.self)
      guard values.removeValue(forKey: name) != nil else { throw .nameNotFound(name) }
      return []
    case "names":
      return [try ManagerCoding.encode(values.keys.sorted())]
    default:
      throw unknownMethod(method, of: "namespace")
    }
  }
}
