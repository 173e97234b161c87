import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A server process that holds objects — dictionaries, lists, namespaces, locks, queues and
/// types of your own — for every process that has its handle: Python's
/// `multiprocessing.Manager()` (a `SyncManager`) and `BaseManager`.
///
/// The server is a child process of any start method, listening on a Unix-domain socket of
/// Linux's abstract namespace (no file: nothing is left behind, even by a killed server),
/// guarded by a random key (Python's `authkey`: HMAC challenge in both
/// directions). Each proxy (``ManagedDictionary``, ``ManagedList``, ``ManagedNamespace``,
/// ``ManagedLock``, ``ManagedQueue``, ``ManagedProxy``) has a connection of its own and a
/// `handle`: a child of any start method reopens the proxy from it, and so does a process
/// given the handle later (through a queue, a pipe, or another managed object). Objects live
/// until the manager is shut down. Every call is a round trip to the server, tens of
/// microseconds: for numbers shared by processes of one machine, ``SharedValue``,
/// ``SharedArray`` and ``Queue`` are 100–1000× faster; a manager is for state of any
/// `Codable` shape, and for Python's habit.
///
/// The process that started the manager owns it: ``shutdown()`` (or dropping the last
/// reference to it) ends the server; a manager reopened from a ``handle`` only connects. The
/// server dies with its owner.
///
/// ```swift
/// let manager = try Manager()
/// let results = try manager.dictionary([Int: Int].self)
/// let worker = Process { [handle = results.handle] in
///   try ManagedDictionary<Int, Int>(handle).set(42, for: 1)
/// }
/// try worker.start()
/// try worker.join()
/// print(try results[1] ?? 0)   // 42
/// ```
public final class Manager: Sendable {
  /// What another process needs to reach the manager's server: its address and key.
  public struct Handle: Codable, Sendable, Hashable {
    /// The server's socket.
    public var address: ConnectionAddress
    /// The key connections must prove they hold.
    public var authKey: [UInt8]
  }

  /// What another process needs to reach the manager's server.
  public let handle: Handle
  private let link: ManagerLink
  /// The server process, for the process that started it.
  private let server: Process?
  /// The process that started the server: a forked child holds a copy of the manager, and
  /// must not end the server its parent owns.
  private let owner = getpid()

  /// Starts a manager's server process, started with `startMethod`, and connects to it.
  ///
  /// Without a `startMethod`, a program that called `bootstrapMultiprocessing` first thing in
  /// `main` starts the server from the fork server, and others with the default start method.
  /// The server runs threads of its own: forked from a parent that runs other threads (Swift
  /// concurrency, Dispatch), it may wait for ever on a lock one of them held at the fork —
  /// the fork server is single-threaded, so its children never do (Python 3.14 made it the
  /// default for this reason).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the server cannot be started, or does not
  ///   answer within 10 s.
  public init(startMethod: StartMethod? = nil) throws(ManagerError) {
    var random = SystemRandomNumberGenerator()
    let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    let name = "swift-multiprocessing-manager-\(getpid())-\(UInt64.random(in: .min ... .max, using: &random))"
    handle = Handle(address: .abstract(name: name), authKey: key)
    let server = Process(
      name: "Manager", daemon: true, startMethod: startMethod ?? Self.defaultStartMethod,
      entryPoint: ManagerServer.entryPoint,
      arguments: ManagerServer.Configuration(address: handle.address, authKey: key))
    do {
      try server.start()
      link = try Self.connect(handle, server: server)
    } catch {
      try? server.kill()
      _ = try? server.join(timeout: .seconds(5))
      throw error as? ManagerError ?? .server("cannot start the server: \(error)")
    }
    self.server = server
  }

  /// Reaches the manager another process started, from its ``handle``.
  ///
  /// - Throws: ``ManagerError/server(_:)`` when it cannot be reached.
  public init(_ handle: Handle) throws(ManagerError) {
    self.handle = handle
    link = try ManagerLink(handle)
    server = nil
  }

  deinit { shutdown() }

  /// The fork server once the program is bootstrapped (its entry points registered, the
  /// manager's among them), else the default start method.
  private static var defaultStartMethod: StartMethod {
    let bootstrapped = ProcessRegistry.shared.lock.withLock {
      ProcessRegistry.shared.entryPoints[ManagerServer.entryPoint.name] != nil
    }
    return bootstrapped ? .forkserver : getStartMethod()
  }

  /// Connects to a server just started: it listens once it is ready.
  private static func connect(_ handle: Handle, server: Process) throws(ManagerError) -> ManagerLink {
    let deadline = ContinuousClock.now + .seconds(10)
    while true {
      do { return try ManagerLink(handle) } catch {
        guard (try? server.isAlive) == true else {
          throw .server("the server process ended before it listened (\(String(describing: try? server.exitCode)))")
        }
        guard ContinuousClock.now < deadline else { throw .server("the server did not listen within 10 s: \(error)") }
        usleep(1000)
      }
    }
  }

  /// Registers a type of your own, so that a server started by this process after this (with
  /// fork) can make it; for spawn and the fork server, pass it to
  /// `bootstrapMultiprocessing(entryPoints:managedTypes:)` instead, which calls this.
  public static func register<Object: ManagedObject>(_ type: Object.Type) {
    ManagerServer.registered.withLock {
      $0[Object.typeName] = { ServedCustomObject<Object>() }
    }
  }

  /// A proxy's own connection to object `object`, just made.
  private func proxyCore(_ object: Int) throws(ManagerError) -> ProxyCore {
    ProxyCore(link: try ManagerLink(handle), object: object)
  }

  /// A new, empty dictionary on the server (Python's `manager.dict()`), or one holding
  /// `initial`.
  public func dictionary<Key, Value>(_: [Key: Value].Type, _ initial: [Key: Value] = [:]) throws(ManagerError)
    -> ManagedDictionary<Key, Value>
  {
    var pairs: [Data] = []
    for (key, value) in initial { pairs += [try ManagerCoding.encode(key), try ManagerCoding.encode(value)] }
    return ManagedDictionary(try proxyCore(link.create("dict", pairs)))
  }

  /// A new list on the server (Python's `manager.list()`), holding `initial`.
  public func list<Element>(_: [Element].Type, _ initial: [Element] = []) throws(ManagerError) -> ManagedList<Element> {
    var elements: [Data] = []
    for element in initial { elements.append(try ManagerCoding.encode(element)) }
    return ManagedList(try proxyCore(link.create("list", elements)))
  }

  /// A new, empty namespace on the server (Python's `manager.Namespace()`).
  public func namespace() throws(ManagerError) -> ManagedNamespace {
    ManagedNamespace(try proxyCore(link.create("namespace")))
  }

  /// A new, unlocked lock on the server (Python's `manager.Lock()`).
  public func lock() throws(ManagerError) -> ManagedLock {
    ManagedLock(try proxyCore(link.create("lock")))
  }

  /// A new, empty queue on the server (Python's `manager.Queue(maxsize)`); `maxSize` above 0
  /// bounds it.
  public func queue<Element>(_: Element.Type, maxSize: Int = 0) throws(ManagerError) -> ManagedQueue<Element> {
    ManagedQueue(try proxyCore(link.create("queue", [ManagerCoding.encode(maxSize)])))
  }

  /// A new object of a registered type of your own, on the server.
  ///
  /// - Throws: ``ManagerError/unknownType(_:)`` when the server does not know the type.
  public func object<Object: ManagedObject>(_: Object.Type) throws(ManagerError) -> ManagedProxy<Object> {
    ManagedProxy(try proxyCore(link.create(Object.typeName)))
  }

  /// Ends the server (Python's `shutdown()`); proxies then throw ``ManagerError/server(_:)``.
  /// Only the process that started the manager does this (not a child forked with a copy of
  /// it); again does nothing.
  public func shutdown() {
    guard let server, getpid() == owner, (try? server.isAlive) == true else { return }
    _ = try? link.call(.shutdown)
    if (try? server.join(timeout: .seconds(5))) == nil {
      try? server.kill()
      _ = try? server.join(timeout: .seconds(5))
    }
  }
}
