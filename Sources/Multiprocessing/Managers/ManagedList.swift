import Foundation

/// A list held by a ``Manager``'s server, seen and changed by every process that has its
/// handle: Python's `manager.list()`, with Python's indices (a negative one counts from the
/// end) and `IndexError` (``ManagerError/indexOutOfRange(index:count:)``). Two values are
/// equal, for ``remove(_:)`` and ``firstIndex(of:)``, when they encode to the same bytes.
///
/// ```swift
/// let manager = try Manager()
/// let log = try manager.list([String].self)
/// try log.append("started")
/// print(try log[0])   // started
/// ```
public final class ManagedList<Element: Codable & Sendable>: Sendable {
  /// What another process reopens the list from.
  public typealias Handle = ManagedHandle<ManagedList<Element>>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the list from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the list.
  public var handle: Handle { core.handle() }

  /// The element at `index` (Python's `l[index]`).
  public subscript(index: Int) -> Element {
    get throws(ManagerError) { try ManagerCoding.single(core.call("get", [ManagerCoding.encode(index)])) }
  }

  /// Replaces the element at `index` (Python's `l[index] = element`).
  public func set(_ element: Element, at index: Int) throws(ManagerError) {
    _ = try core.call("set", [ManagerCoding.encode(index), ManagerCoding.encode(element)])
  }

  /// Appends `element` (Python's `append`).
  public func append(_ element: Element) throws(ManagerError) {
    _ = try core.call("extend", [ManagerCoding.encode(element)])
  }

  /// Appends every element of `elements`, in one call (Python's `extend`).
  public func append(contentsOf elements: [Element]) throws(ManagerError) {
    var encoded: [Data] = []
    for element in elements { encoded.append(try ManagerCoding.encode(element)) }
    _ = try core.call("extend", encoded)
  }

  /// Inserts `element` before `index` (Python's `insert`: an index past the end appends).
  public func insert(_ element: Element, at index: Int) throws(ManagerError) {
    _ = try core.call("insert", [ManagerCoding.encode(index), ManagerCoding.encode(element)])
  }

  /// Removes and returns the element at `index`, the last by default (Python's `pop`).
  @discardableResult
  public func remove(at index: Int = -1) throws(ManagerError) -> Element {
    try ManagerCoding.single(core.call("pop", [ManagerCoding.encode(index)]))
  }

  /// Removes the first element equal to `element` (Python's `remove`).
  ///
  /// - Throws: ``ManagerError/valueNotFound``.
  public func remove(_ element: Element) throws(ManagerError) {
    _ = try core.call("remove", [ManagerCoding.encode(element)])
  }

  /// The index of the first element equal to `element` (Python's `index`).
  ///
  /// - Throws: ``ManagerError/valueNotFound``.
  public func firstIndex(of element: Element) throws(ManagerError) -> Int {
    try ManagerCoding.single(core.call("index", [ManagerCoding.encode(element)]))
  }

  /// How many elements (Python's `len(l)`).
  public var count: Int { get throws(ManagerError) { try ManagerCoding.single(core.call("count")) } }

  /// A copy, in this process (Python's `l[:]`).
  public func snapshot() throws(ManagerError) -> [Element] {
    try core.call("all").map { (data) throws(ManagerError) in try ManagerCoding.decode(data, as: Element.self) }
  }

  /// Removes every element (Python's `l.clear()`).
  public func removeAll() throws(ManagerError) {
    _ = try core.call("clear")
  }
}

/// A ``ManagedList`` on the server: encoded elements.
final class ServedList: ServedObject, @unchecked Sendable {
  // @unchecked: `elements` is only used with `lock` held.
  private let lock = NSLock()
  private var elements: [Data]

  init(_ arguments: [Data]) throws(ManagerError) {
    elements = arguments
  }

  /// `index` as Python reads it (negative from the end), checked.
  private func position(_ argument: Data) throws(ManagerError) -> Int {
    let index: Int = try ManagerCoding.decode(argument)
    let position = index < 0 ? elements.count + index : index
    guard elements.indices.contains(position) else { throw .indexOutOfRange(index: index, count: elements.count) }
    return position
  }

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    lock.lock()
    defer { lock.unlock() }
    switch method {
    case "get":
      return [elements[try position(try argument(arguments, 0))]]
    case "set":
      elements[try position(try argument(arguments, 0))] = try argument(arguments, 1)
      return []
    case "extend":
      elements += arguments
      return []
    case "insert":
      let index: Int = try ManagerCoding.decode(try argument(arguments, 0))
      let position = index < 0 ? max(elements.count + index, 0) : min(index, elements.count)
      elements.insert(try argument(arguments, 1), at: position)
      return []
    case "pop":
      return [elements.remove(at: try position(try argument(arguments, 0)))]
    case "remove":
      let element = try argument(arguments, 0)
      guard let index = elements.firstIndex(of: element) else { throw .valueNotFound }
      elements.remove(at: index)
      return []
    case "index":
      guard let index = elements.firstIndex(of: try argument(arguments, 0)) else { throw .valueNotFound }
      return [try ManagerCoding.encode(index)]
    case "count":
      return [try ManagerCoding.encode(elements.count)]
    case "all":
      return elements
    case "clear":
      elements = []
      return []
    default:
      throw unknownMethod(method, of: "list")
    }
  }
}
