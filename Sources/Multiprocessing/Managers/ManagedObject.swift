import Foundation

/// A type of your own that a ``Manager``'s server holds, reached through a ``ManagedProxy``:
/// Python's `BaseManager.register(typeid, callable)`.
///
/// The server makes the object with `init()` and runs ``handle(_:)`` for each request a
/// proxy sends, one at a time per object (the object needs no lock of its own). Register the
/// type where the server can find it: with ``Manager/register(_:)`` before a forked manager
/// starts, and in `bootstrapMultiprocessing(entryPoints:managedTypes:)` for a manager started
/// with spawn or the fork server (whose server is a fresh run of the program).
///
/// ```swift
/// final class Tally: ManagedObject {
///   static let typeName = "Tally"
///   private var total = 0
///   init() {}
///   func handle(_ amount: Int) -> Int {
///     total += amount
///     return total
///   }
/// }
/// ```
public protocol ManagedObject: AnyObject, SendableMetatype {
  /// What a proxy sends.
  associatedtype Request: Codable & Sendable
  /// What the object answers.
  associatedtype Response: Codable & Sendable
  /// The name the server knows the type by; unique within the program.
  static var typeName: String { get }
  /// A new object, made on the server.
  init()
  /// Answers one request, on the server; what it throws reaches the caller as
  /// ``ManagerError/objectFailed(_:)``.
  func handle(_ request: Request) throws -> Response
}

/// A proxy for a ``ManagedObject`` of your own, usable from every process that has its
/// handle: each ``call(_:)`` runs the object's `handle` on the manager's server.
public final class ManagedProxy<Object: ManagedObject>: Sendable {
  /// What another process reopens the proxy from.
  public typealias Handle = ManagedHandle<ManagedProxy<Object>>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the proxy from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the proxy.
  public var handle: Handle { core.handle() }

  /// Sends `request` to the object and returns its response.
  ///
  /// - Throws: ``ManagerError/objectFailed(_:)`` when the object's `handle` threw.
  public func call(_ request: Object.Request) throws(ManagerError) -> Object.Response {
    try ManagerCoding.single(core.call("handle", [ManagerCoding.encode(request)]))
  }
}

/// A ``ManagedObject`` on the server, its calls one at a time.
final class ServedCustomObject<Object: ManagedObject>: ServedObject, @unchecked Sendable {
  // @unchecked: `object` is only used with `lock` held.
  private let lock = NSLock()
  private let object = Object()

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    guard method == "handle" else { throw unknownMethod(method, of: Object.typeName) }
    let request = try ManagerCoding.decode(try argument(arguments, 0), as: Object.Request.self)
    lock.lock()
    defer { lock.unlock() }
    let response: Object.Response
    do { response = try object.handle(request) } catch { throw .objectFailed("\(error)") }
    return [try ManagerCoding.encode(response)]
  }
}
