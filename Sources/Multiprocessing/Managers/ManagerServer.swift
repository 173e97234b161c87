import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The manager's server process: a ``Listener`` on an abstract Unix-domain socket, guarded by
/// the manager's key, a thread per connection, and the objects the proxies reach by id.
final class ManagerServer: Sendable {
  /// What the server needs: where to listen, and the key connections must prove.
  struct Configuration: Codable, Sendable {
    var address: ConnectionAddress
    var authKey: [UInt8]
  }

  /// What makes a new object of a registered type.
  typealias Factory = @Sendable () -> any ServedObject

  /// The types a program registered (`Manager.register(_:)`), by name.
  static let registered = Mutex<[String: Factory]>([:])

  private let listener: Listener
  private let objects = Mutex<[Int: any ServedObject]>([:])
  private let nextID = Atomic<Int>(1)
  private let nextCaller = Atomic<Int>(1)

  init(_ configuration: Configuration) throws(ManagerError) {
    do { listener = try Listener(configuration.address, authKey: configuration.authKey) } catch {
      throw .server("cannot listen on \(configuration.address): \(error)")
    }
  }

  /// Accepts connections until a shutdown request.
  func serve() {
    while true {
      let connection: Connection
      do { connection = try listener.accept() } catch {
        if case .closed = error { break }
        continue  // A client that failed the challenge; the next one is served.
      }
      let caller = nextCaller.add(1, ordering: .relaxed).oldValue
      startThread(named: "mp-manager") { [self] in serve(connection, caller: caller) }
    }
  }

  /// Answers one connection's requests until it ends.
  private func serve(_ connection: Connection, caller: Int) {
    defer {
      connection.close()
      for object in objects.withLock({ Array($0.values) }) { object.callerEnded(caller) }
    }
    while true {
      guard let request = try? connection.recv(ManagerRequest.self) else { return }
      let reply: ManagerReply
      do throws(ManagerError) {
        reply = .done(try handle(request, caller: caller))
      } catch {
        reply = .failed(error)
      }
      guard (try? connection.send(reply)) != nil else { return }
      if case .shutdown = request {
        listener.close()
        return
      }
    }
  }

  private func handle(_ request: ManagerRequest, caller: Int) throws(ManagerError) -> [Data] {
    switch request {
    case .create(let kind, let arguments):
      let object = try Self.make(kind, arguments)
      let id = nextID.add(1, ordering: .relaxed).oldValue
      objects.withLock { $0[id] = object }
      return [try ManagerCoding.encode(id)]
    case .call(let id, let method, let arguments):
      guard let object = objects.withLock({ $0[id] }) else { throw .unknownObject(id) }
      return try object.call(method, arguments, caller: caller)
    case .shutdown:
      return []
    }
  }

  /// A new object of `kind`.
  private static func make(_ kind: String, _ arguments: [Data]) throws(ManagerError) -> any ServedObject {
    switch kind {
    case "dict": return try ServedDictionary(arguments)
    case "list": return try ServedList(arguments)
    case "namespace": return ServedNamespace()
    case "lock": return ServedLock()
    case "queue": return try ServedQueue(arguments)
    default:
      guard let factory = registered.withLock({ $0[kind] }) else { throw .unknownType(kind) }
      return factory()
    }
  }

  /// The entry point the manager's server process runs, under every start method.
  static let entryPoint = EntryPoint<Configuration>("multiprocessing-manager-server") { configuration in
    try ManagerServer(configuration).serve()
  }
}
