import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The manager: a server process of every start method, its objects used from children of
/// every start method through their handles, Python's semantics call by call, a custom type,
/// a killed lock holder, a wrong key, and shutdown.
@Suite(.timeLimit(.minutes(2))) struct ManagerTests {
  /// Every kind of object, made by a manager whose server was started with `method`, used by
  /// a child of the same method that has only their handles; the parent sees its changes,
  /// waits on the lock the child holds, and hands it an item through the managed queue.
  /// The fork method's run is made from a spawned, single-threaded process
  /// (`managerExercise`), as a program with other threads should not fork a server.
  @Test(arguments: [StartMethod.spawn, .forkserver])
  func everyKindOfObjectCrossesToAChild(method: StartMethod) throws {
    _ = Fixture.ready
    let manager = try Manager(startMethod: method)
    let dictionary = try manager.dictionary([String: Int].self, ["parent": 1])
    let list = try manager.list([String].self, ["parent"])
    let namespace = try manager.namespace()
    let lock = try manager.lock()
    let queue = try manager.queue(Int.self)
    let tally = try manager.object(Tally.self)
    #expect(try tally.call(10) == 10)
    let child = Fixture.process(
      method, TestEntryPoints.managerClient,
      TestEntryPoints.ManagerObjects(
        dictionary: dictionary, list: list, namespace: namespace, lock: lock, queue: queue, tally: tally))
    try child.start()
    #expect(eventually(within: .seconds(20)) { (try? namespace.names) == ["pid"] }, "the child holds the lock")
    #expect(try dictionary["child"] == 7)
    #expect(try !lock.acquire(timeout: .zero))
    try queue.put(41)
    #expect(try lock.acquire(timeout: .seconds(10)), "the child let go")
    try lock.release()
    #expect(try queue.get(timeout: .seconds(10)) == 42)
    try child.join(timeout: .seconds(10))
    #expect(try child.exitCode == 0)
    #expect(try dictionary.items().map(\.key) == ["parent", "child"])
    #expect(try list.snapshot() == ["parent", "child"])
    #expect(try namespace.value("pid", as: Int32.self) == child.pid)
    #expect(try tally.call(0) == 15)
    manager.shutdown()
  }

  @Test(arguments: StartMethod.allCases)
  func everyKindOfObjectCrossesToAChildFromASingleThreadedParent(method: StartMethod) throws {
    let exercise = Fixture.process(.spawn, TestEntryPoints.managerExercise, method)
    try exercise.start()
    try exercise.join(timeout: .seconds(60))
    #expect(try exercise.exitCode == 0)
  }

  @Test func aDictionaryBehavesAsPythons() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let scores = try manager.dictionary([String: Int].self)
    try scores.set(1, for: "b")
    try scores.set(2, for: "a")
    try scores.set(3, for: "b")
    #expect(try scores.keys == ["b", "a"], "keys keep the order they were first set in")
    #expect(try scores["b"] == 3)
    #expect(try scores["missing"] == nil)
    #expect(throws: ManagerError.keyNotFound("missing")) { _ = try scores.value(for: "missing") }
    #expect(try scores.setDefault(9, for: "a") == 2)
    #expect(try scores.setDefault(9, for: "c") == 9)
    #expect(try scores.contains("c"))
    #expect(try scores.removeValue(forKey: "b") == 3)
    #expect(try scores.removeValue(forKey: "b") == nil)
    try scores.update(["d": 4])
    #expect(try scores.count == 3)
    #expect(try scores.snapshot() == ["a": 2, "c": 9, "d": 4])
    try scores.removeAll()
    #expect(try scores.count == 0)
  }

  @Test func aListBehavesAsPythons() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let list = try manager.list([Int].self, [1, 2, 3])
    #expect(try list[-1] == 3)
    #expect(throws: ManagerError.indexOutOfRange(index: 3, count: 3)) { _ = try list[3] }
    #expect(throws: ManagerError.indexOutOfRange(index: -4, count: 3)) { _ = try list[-4] }
    try list.insert(0, at: -100)
    try list.insert(9, at: 100)
    #expect(try list.snapshot() == [0, 1, 2, 3, 9])
    #expect(try list.remove() == 9)
    #expect(try list.remove(at: 0) == 0)
    try list.set(20, at: 1)
    try list.append(contentsOf: [2, 2])
    try list.remove(2)
    #expect(try list.snapshot() == [1, 20, 3, 2])
    #expect(try list.firstIndex(of: 3) == 2)
    #expect(throws: ManagerError.valueNotFound) { try list.remove(99) }
    #expect(throws: ManagerError.valueNotFound) { _ = try list.firstIndex(of: 99) }
    #expect(try list.count == 4)
  }

  @Test func aNamespaceALockAndAQueueBehaveAsPythons() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let namespace = try manager.namespace()
    try namespace.set("rate", to: 0.5)
    try namespace.set("name", to: "run 1")
    #expect(try namespace.value("rate", as: Double.self) == 0.5)
    #expect(try namespace.names == ["name", "rate"])
    try namespace.remove("rate")
    #expect(throws: ManagerError.nameNotFound("rate")) { _ = try namespace.value("rate", as: Double.self) }
    #expect(throws: ManagerError.nameNotFound("rate")) { try namespace.remove("rate") }
    #expect(throws: ManagerError.self) { _ = try namespace.value("name", as: [Int].self) }

    let lock = try manager.lock()
    #expect(throws: ManagerError.releasedUnlocked) { try lock.release() }
    #expect(try lock.acquire())
    let other = try ManagedLock(lock.handle)
    let started = ContinuousClock.now
    #expect(try !other.acquire(timeout: .milliseconds(100)))
    #expect(ContinuousClock.now - started >= .milliseconds(90))
    try other.release()  // Any holder may release it, as Python's.
    #expect(try other.acquire(timeout: .zero))

    let queue = try manager.queue(String.self, maxSize: 2)
    try queue.put("a")
    try queue.put("b", timeout: .zero)
    #expect(throws: ManagerError.full) { try queue.put("c", timeout: .milliseconds(50)) }
    #expect(try queue.count == 2)
    #expect(try queue.get() == "a")
    #expect(try queue.get(timeout: .zero) == "b")
    #expect(throws: ManagerError.empty) { _ = try queue.get(timeout: .milliseconds(50)) }
  }

  /// A type of the program's own: its error reaches the caller; an unregistered one is
  /// refused by name; handles cross through the manager's own queue.
  @Test func aCustomTypeAndHandlesThroughTheManager() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let tally = try manager.object(Tally.self)
    #expect(try tally.call(2) == 2)
    #expect(throws: ManagerError.self) { _ = try tally.call(-1) }
    #expect(try tally.call(3) == 5)
    #expect(throws: ManagerError.unknownType("UnregisteredTally")) { _ = try manager.object(UnregisteredTally.self) }
    let handles = try manager.queue(ManagedProxy<Tally>.Handle.self)
    try handles.put(tally.handle)
    #expect(try ManagedProxy<Tally>(handles.get()).call(1) == 6)
  }

  /// A manager's owner killed: its server dies with it, and the socket's name is gone (an
  /// abstract name has no file to leave behind).
  @Test func aKilledOwnersServerEndsAndLeavesNothing() throws {
    _ = Fixture.ready
    let names = try Manager(startMethod: .spawn)  // for passing the owner's handle back
    let handles = try names.queue(Manager.Handle.self)
    let owner = Fixture.process(.spawn, TestEntryPoints.managerOwner, handles.handle)
    try owner.start()
    let handle = try handles.get(timeout: .seconds(20))
    guard case .abstract(let name) = handle.address else { throw ManagerError.shutDown }
    #expect(try abstractSocketNames().contains("@" + name))
    #expect(try Manager(handle).dictionary([Int: Int].self).count == 0, "the owner's manager serves")
    try owner.kill()
    try owner.join(timeout: .seconds(10))
    #expect(
      eventually { (try? abstractSocketNames().contains("@" + name)) == false }, "the server died with its owner")
    #expect(throws: ManagerError.self) { _ = try Manager(handle) }
    names.shutdown()
  }

  /// A forked child uses its copies of the proxies over connections of its own while the
  /// parent uses them too, and its shutdown leaves the parent's server serving: only the
  /// process that started it ends it.
  @Test func aForkedChildConnectsAgainAndLeavesItsParentsManager() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let dictionary = try manager.dictionary([Int: Int].self)
    try dictionary.set(0, for: 0)
    // The child's proxy connects again rather than share its parent's socket: the parent's
    // calls, made at the same time, each get their own answer.
    let child = Multiprocessing.Process(startMethod: .fork) {
      for key in 1...200 { try dictionary.set(key, for: key) }
      manager.shutdown()
    }
    try child.start()
    for _ in 0..<200 { #expect(try dictionary[0] == 0) }
    try child.join(timeout: .seconds(10))
    #expect(try child.exitCode == 0)
    #expect(try dictionary.count == 201)
    manager.shutdown()
    #expect(throws: ManagerError.self) { try dictionary.set(2, for: 2) }
  }

  /// A process killed while it holds a managed lock: its connection ends, and the server lets
  /// the lock go (Python's manager keeps it locked for ever).
  @Test func aKilledHoldersLockIsLetGo() throws {
    _ = Fixture.ready
    let manager = try Manager(startMethod: .spawn)
    let lock = try manager.lock()
    let namespace = try manager.namespace()
    let child = Fixture.process(
      .spawn, TestEntryPoints.managerClient,
      TestEntryPoints.ManagerObjects(
        dictionary: try manager.dictionary([String: Int].self), list: try manager.list([String].self),
        namespace: namespace, lock: lock, queue: try manager.queue(Int.self), tally: try manager.object(Tally.self)))
    try child.start()
    #expect(eventually(within: .seconds(20)) { (try? namespace.names) == ["pid"] }, "the child holds the lock")
    #expect(try !lock.acquire(timeout: .zero))
    try child.kill()
    try child.join(timeout: .seconds(10))
    #expect(try lock.acquire(timeout: .seconds(5)))
  }

  /// A client with the wrong key is refused, and the server goes on serving; after shutdown
  /// the server is gone, its socket name with it, and proxies say so.
  @Test func aWrongKeyIsRefusedAndShutdownEndsTheServer() throws {
    _ = Fixture.ready
    let manager = try Manager()
    let dictionary = try manager.dictionary([Int: Int].self)
    var wrong = manager.handle
    wrong.authKey = Array("not the key".utf8)
    #expect(throws: ManagerError.self) { _ = try Manager(wrong) }
    try dictionary.set(1, for: 1)
    let reopened = try Manager(manager.handle)
    #expect(try reopened.dictionary([Int: Int].self).count == 0)
    guard case .abstract(let name) = manager.handle.address else { throw ManagerError.shutDown }
    #expect(try abstractSocketNames().contains("@" + name))
    manager.shutdown()
    #expect(try !abstractSocketNames().contains("@" + name), "the name is gone with the server")
    #expect(throws: ManagerError.self) { try dictionary.set(2, for: 2) }
    #expect(throws: ManagerError.self) { _ = try Manager(manager.handle) }
    manager.shutdown()
  }
}

/// A managed type no one registered.
final class UnregisteredTally: ManagedObject {
  static let typeName = "UnregisteredTally"
  init() {}
  func handle(_ request: Int) -> Int { request }
}
