import Foundation
import Synchronization

/// A dictionary held by a ``Manager``'s server, seen and changed by every process that has
/// its handle: Python's `manager.dict()`. Keys keep the order they were first set in, as a
/// Python `dict`'s do; two keys are the same key when they encode to the same bytes.
///
/// Every call is a round trip to the server (tens of microseconds): take a ``snapshot()``
/// to read many values at once.
///
/// ```swift
/// let manager = try Manager()
/// let scores = try manager.dictionary([String: Int].self)
/// try scores.set(3, for: "ada")
/// print(try scores["ada"] ?? 0)   // 3
/// ```
public final class ManagedDictionary<Key: Codable & Hashable & Sendable, Value: Codable & Sendable>: Sendable {
  /// What another process reopens the dictionary from.
  public typealias Handle = ManagedHandle<ManagedDictionary<Key, Value>>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the dictionary from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the dictionary.
  public var handle: Handle { core.handle() }

  /// The value for `key`, or nil (Python's `d.get(key)`).
  public subscript(key: Key) -> Value? {
    get throws(ManagerError) {
      try ManagerCoding.optional(core.call("get", [ManagerCoding.encode(key)]), as: Value.self)
    }
  }

  /// The value for `key` (Python's `d[key]`).
  ///
  /// - Throws: ``ManagerError/keyNotFound(_:)``.
  public func value(for key: Key) throws(ManagerError) -> Value {
    guard let value = try self[key] else { throw .keyNotFound("\(key)") }
    return value
  }

  /// Sets `key` to `value` (Python's `d[key] = value`).
  public func set(_ value: Value, for key: Key) throws(ManagerError) {
    _ = try core.call("set", [ManagerCoding.encode(key), ManagerCoding.encode(value)])
  }

  /// Sets every key of `other` (Python's `d.update(other)`).
  public func update(_ other: [Key: Value]) throws(ManagerError) {
    var pairs: [Data] = []
    for (key, value) in other { pairs += [try ManagerCoding.encode(key), try ManagerCoding.encode(value)] }
    _ = try core.call("set", pairs)
  }

  /// The value for `key`, set to `value` first if the key is new (Python's `setdefault`).
  public func setDefault(_ value: Value, for key: Key) throws(ManagerError) -> Value {
    try ManagerCoding.single(core.call("setdefault", [ManagerCoding.encode(key), ManagerCoding.encode(value)]))
  }

  /// Removes `key` and returns its value, or nil when it was not there (Python's
  /// `d.pop(key, None)`).
  @discardableResult
  public func removeValue(forKey key: Key) throws(ManagerError) -> Value? {
    try ManagerCoding.optional(core.call("pop", [ManagerCoding.encode(key)]), as: Value.self)
  }

  /// Whether `key` is there (Python's `key in d`).
  public func contains(_ key: Key) throws(ManagerError) -> Bool {
    try ManagerCoding.single(core.call("contains", [ManagerCoding.encode(key)]))
  }

  /// How many keys (Python's `len(d)`).
  public var count: Int { get throws(ManagerError) { try ManagerCoding.single(core.call("count")) } }

  /// The keys, in the order they were first set (Python's `list(d.keys())`).
  public var keys: [Key] {
    get throws(ManagerError) {
      try core.call("keys").map { (data) throws(ManagerError) in try ManagerCoding.decode(data, as: Key.self) }
    }
  }

  /// The keys and values, in the order the keys were first set (Python's `list(d.items())`).
  public func items() throws(ManagerError) -> [(key: Key, value: Value)] {
    let flat = try core.call("items")
    var items: [(key: Key, value: Value)] = []
    for index in stride(from: 0, to: flat.count - 1, by: 2) {
      items.append(
        (try ManagerCoding.decode(flat[index], as: Key.self), try ManagerCoding.decode(flat[index + 1], as: Value.self))
      )
    }
    return items
  }

  /// A copy, in this process (Python's `d.copy()`).
  public func snapshot() throws(ManagerError) -> [Key: Value] {
    Dictionary(try items(), uniquingKeysWith: { _, last in last })
  }

  /// Removes every key (Python's `d.clear()`).
  public func removeAll() throws(ManagerError) {
    _ = try core.call("clear")
  }
}

/// A ``ManagedDictionary`` on the server: encoded keys in the order they were first set.
final class ServedDictionary: ServedObject, @unchecked Sendable {
  // @unchecked: `order` and `values` are only used with `lock` held.
  private let lock = NSLock()
  private var order: [Data] = []
  private var values: [Data: Data] = [:]

  init(_ arguments: [Data]) throws(ManagerError) {
    try set(arguments)
  }

  /// Sets each pair of `arguments` (key, value, key, value…).
  private func set(_ arguments: [Data]) throws(ManagerError) {
    guard arguments.count % 2 == 0 else { throw .coding("keys and values come in pairs") }
    for index in stride(from: 0, to: arguments.count, by: 2) {
      if values.updateValue(arguments[index + 1], forKey: arguments[index]) == nil { order.append(arguments[index]) }
    }
  }

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    lock.lock()
    defer { lock.unlock() }
    switch method {
    case "get":
      return values[try argument(arguments, 0)].map { [$0] } ?? []
    case "set":
      try set(arguments)
      return []
    case "setdefault":
      let key = try argument(arguments, 0)
      if let value = values[key] { return [value] }
      try set(arguments)
      return [try argument(arguments, 1)]
    case "pop":
      let key = try argument(arguments, 0)
      let removed = values.removeValue(forKey: key)
      if removed != nil { order.removeAll { $0 == key } }
      return removed.map { [$0] } ?? []
    case "contains":
      return [try ManagerCoding.encode(values[try argument(arguments, 0)] != nil)]
    case "count":
      return [try ManagerCoding.encode(values.count)]
    case "keys":
      return order
    case "items":
      return order.flatMap { [$0, values[$0]!] }
    case "clear":
      order = []
      values = [:]
      return []
    default:
      throw unknownMethod(method, of: "dictionary")
    }
  }
}
