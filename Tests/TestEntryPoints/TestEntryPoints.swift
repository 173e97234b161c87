import ComputeEngine
import Foundation
import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// A value that records which process decoded it.
public struct DecodedWhere: Codable, Sendable {
  /// The pid of the process that decoded it (0 for one made, not decoded).
  public var decodedIn: Int32 = 0

  /// A value made, not decoded.
  public init() {}

  /// Decodes the value, recording the decoding process's pid.
  public init(from decoder: any Decoder) throws {
    _ = try decoder.singleValueContainer().decode(Int32.self)
    decodedIn = getpid()
  }

  /// Encodes the recorded pid (which decoding replaces).
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(decodedIn)
  }
}

/// What a child reports about itself, for assertions made in the parent.
public struct ChildReport: Codable, Sendable, Equatable {
  /// `currentProcess().name`.
  public var name: String
  /// `currentProcess().pid`.
  public var pid: Int32
  /// The kernel's parent pid.
  public var ppid: Int32
  /// `parentProcess()?.pid`.
  public var parentPid: Int32?
  /// `parentProcess()?.name`.
  public var parentName: String?
  /// `currentProcess().daemon`.
  public var daemon: Bool
  /// `currentProcess().isAlive`.
  public var currentIsAlive: Bool

  /// The report of the calling process.
  public static func here() -> ChildReport {
    let current = currentProcess()
    return ChildReport(
      name: current.name, pid: (try? current.pid) ?? nil ?? -1, ppid: getppid(), parentPid: parentProcess()?.pid,
      parentName: parentProcess()?.name, daemon: current.daemon, currentIsAlive: (try? current.isAlive) ?? false)
  }

  /// Writes this report to `path` as JSON.
  public func write(to path: String) throws {
    try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path))
  }

  /// Reads a report written by ``write(to:)``.
  public static func read(from path: String) throws -> ChildReport {
    try JSONDecoder().decode(ChildReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
  }
}

/// An error a child throws on purpose.
public struct ChildFailure: Error, CustomStringConvertible {
  /// What went wrong.
  public var message: String
  /// The message, prefixed with the type.
  public var description: String { "ChildFailure: \(message)" }
  /// A failure with `message`.
  public init(message: String) { self.message = message }
}

/// Arguments for the family entry point.
public struct FamilyPlan: Codable, Sendable {
  /// How to start the grandchildren.
  public var method: StartMethod
  /// How many grandchildren to start.
  public var count: Int
  /// Where the reports go.
  public var directory: String
  /// A plan.
  public init(method: StartMethod, count: Int, directory: String) {
    self.method = method
    self.count = count
    self.directory = directory
  }
}

/// The entry points the tests run under spawn and forkserver (and fork, for symmetry).
public enum TestEntryPoints {
  /// Writes the child's ``ChildReport`` to the given path.
  public static let report = EntryPoint<String>("report") { path in try ChildReport.here().write(to: path) }
  /// Sleeps for the given number of milliseconds.
  public static let sleep = EntryPoint<Int>("sleep") { milliseconds in usleep(UInt32(milliseconds) * 1000) }
  /// Ends with the given code through ``ProcessExit``.
  public static let exit = EntryPoint<Int32>("exit") { code in throw ProcessExit(code) }
  /// Ends with 20 when its argument was decoded in the child itself, 21 otherwise.
  public static let decodedWhere = EntryPoint<DecodedWhere>("decoded-where") { value in
    throw ProcessExit(value.decodedIn == getpid() ? 20 : 21)
  }
  /// Ends with 0 when the environment variable of the given name is unset, 1 when it is set.
  public static let unset = EntryPoint<String>("unset") { name in throw ProcessExit(getenv(name) == nil ? 0 : 1) }
  /// Ends with the given code through the C library's `exit`.
  public static let cExit = EntryPoint<Int32>("c-exit") { code in Glibc.exit(code) }
  /// Throws a ``ChildFailure`` with the given message.
  public static let fail = EntryPoint<String>("fail") { message in throw ChildFailure(message: message) }
  /// Calls `abort()`.
  public static let abort = EntryPoint<Int>("abort") { _ in Glibc.abort() }
  /// Writes through an invalid pointer. (A signal raised on purpose would not do: Swift's
  /// crash handler returns from it, and only a real fault, which repeats, kills the process.)
  public static let segfault = EntryPoint<Int>("segfault") { address in
    UnsafeMutablePointer<Int>(bitPattern: address)!.pointee = 1
  }
  /// Ends with 0 when its bytes are ``patternBytes(count:)`` of their count, 3 when they are not.
  public static let checkBytes = EntryPoint<[UInt8]>("check-bytes") { bytes in
    throw ProcessExit(bytes == patternBytes(count: bytes.count) ? 0 : 3)
  }
  /// `count` bytes of a pattern that a lost or shifted byte breaks: 0, 1, … 250, 0, 1, …
  public static func patternBytes(count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }
  /// Hits a Swift runtime trap.
  public static let trap = EntryPoint<[Int]>("trap") { values in _ = values[values.count] }
  /// Prints the given number of numbered lines: the first half flushed line by line, the
  /// rest left in the stdio buffer (under the 4 KiB a pipe writes atomically) for the exit to
  /// flush, so that lines of concurrent children do not interleave mid-line.
  public static let printLines = EntryPoint<Int>("print-lines") { count in
    for line in 0..<count {
      print("child \(currentProcess().name) line \(line)")
      if line < count / 2 { fflush(nil) }
    }
  }
  /// Writes its report, starts `count` children that write theirs, joins them, and fails
  /// unless every one exited with 0.
  public static let family = EntryPoint<FamilyPlan>("family") { plan in
    try ChildReport.here().write(to: "\(plan.directory)/parent.json")
    let children = (0..<plan.count).map { index in
      Process(startMethod: plan.method, entryPoint: report, arguments: "\(plan.directory)/child-\(index).json")
    }
    for child in children { try child.start() }
    for child in children { try child.join() }
    guard try children.allSatisfy({ try $0.exitCode == 0 }) else { throw ChildFailure(message: "a grandchild failed") }
  }
  /// Tries to start a child (which a daemon must not do); exits 20 when refused as a daemon.
  public static let startChild = EntryPoint<Int>("start-child") { _ in
    let child = Process(startMethod: .fork) {}
    // As in Python, a process is a daemon by default when its creator is: 30 if not.
    guard child.daemon == currentProcess().daemon else { throw ProcessExit(30) }
    do {
      try child.start()
      throw ProcessExit(10)
    } catch ProcessError.daemonCannotHaveChildren {
      throw ProcessExit(20)
    }
  }

  /// Reopens a connection from its handle, receives a number and sends back its double.
  public static let connectionEcho = EntryPoint<Connection.Handle>("connection-echo") { handle in
    let connection = try Connection(handle)
    try connection.send(try connection.recv(Int.self) * 2)
  }

  /// Two queues: numbers in, their sum out.
  public struct QueuePair: Codable, Sendable {
    /// The queue the numbers come from.
    public var input: Queue<Int>.Handle
    /// The queue the sum goes to.
    public var output: Queue<Int>.Handle
    /// The pair of `input` and `output`.
    public init(input: Queue<Int>.Handle, output: Queue<Int>.Handle) {
      self.input = input
      self.output = output
    }
  }

  /// Takes numbers from the input queue until it is closed, then puts their sum on the output.
  public static let queueSummer = EntryPoint<QueuePair>("queue-summer") { pair in
    let input = try Queue<Int>(pair.input)
    var sum = 0
    while true {
      do { sum += try input.get() } catch QueueError.closed { break }
    }
    try Queue<Int>(pair.output).put(sum)
  }

  /// Closes the queue 100 ms after it starts.
  public static let queueCloser = EntryPoint<Queue<Int>.Handle>("queue-closer") { handle in
    let queue = try Queue<Int>(handle)
    usleep(100_000)
    queue.close()
  }

  /// What ``queueFlooder`` puts where.
  public struct QueueFlood: Codable, Sendable {
    /// The (unbounded) queue to fill.
    public var queue: Queue<Int>.Handle
    /// How many items: `0..<count`.
    public var count: Int
    /// Set to `count` once every put has returned.
    public var putsReturned: SharedValue<Int>.Handle
    /// The flood: `count` items into `queue`, noted in `putsReturned`.
    public init(queue: Queue<Int>.Handle, count: Int, putsReturned: SharedValue<Int>.Handle) {
      self.queue = queue
      self.count = count
      self.putsReturned = putsReturned
    }
  }

  /// Puts `0..<count` into the queue without waiting (`timeout: .zero`), notes that every put
  /// returned, closes the queue and ends (its exit waits until its buffered items are in).
  public static let queueFlooder = EntryPoint<QueueFlood>("queue-flooder") { flood in
    let queue = try Queue<Int>(flood.queue)
    for item in 0..<flood.count { try queue.put(item, timeout: .zero) }
    try SharedValue<Int>(flood.putsReturned).value = flood.count
    queue.close()
  }

  /// The handles of one manager's objects, for ``managerClient``.
  public struct ManagerObjects: Codable, Sendable {
    /// The dictionary.
    public var dictionary: ManagedDictionary<String, Int>.Handle
    /// The list.
    public var list: ManagedList<String>.Handle
    /// The namespace.
    public var namespace: ManagedNamespace.Handle
    /// The lock.
    public var lock: ManagedLock.Handle
    /// The queue.
    public var queue: ManagedQueue<Int>.Handle
    /// The tally.
    public var tally: ManagedProxy<Tally>.Handle
    /// The handles of these objects.
    public init(
      dictionary: ManagedDictionary<String, Int>, list: ManagedList<String>, namespace: ManagedNamespace,
      lock: ManagedLock, queue: ManagedQueue<Int>, tally: ManagedProxy<Tally>
    ) {
      self.dictionary = dictionary.handle
      self.list = list.handle
      self.namespace = namespace.handle
      self.lock = lock.handle
      self.queue = queue.handle
      self.tally = tally.handle
    }
  }

  /// Reopens every object of a manager from its handle and uses each: sets `child` to 7 in
  /// the dictionary, appends "child" to the list, adds 5 to the tally, takes the lock, then
  /// sets the namespace's `pid` (so the parent knows it holds the lock) and holds it until the
  /// queue brings an item, then puts that item plus 1 back.
  public static let managerClient = EntryPoint<ManagerObjects>("manager-client") { objects in
    try ManagedDictionary<String, Int>(objects.dictionary).set(7, for: "child")
    try ManagedList<String>(objects.list).append("child")
    _ = try ManagedProxy<Tally>(objects.tally).call(5)
    let lock = try ManagedLock(objects.lock)
    try lock.acquire()
    try ManagedNamespace(objects.namespace).set("pid", to: Int(getpid()))
    let queue = try ManagedQueue<Int>(objects.queue)
    let item = try queue.get()
    try queue.put(item + 1)
    try lock.release()
  }

  /// From a fresh, single-threaded process: starts a manager with the method given, and a
  /// child of that method that uses every kind of its objects (``managerClient``); exits 0
  /// when every change arrived, 1 otherwise. The test of the fork method runs here: a
  /// manager forked from the many-threaded test runner may wait for ever on a runtime lock.
  public static let managerExercise = EntryPoint<StartMethod>("manager-exercise") { method in
    let manager = try Manager(startMethod: method)
    let dictionary = try manager.dictionary([String: Int].self, ["parent": 1])
    let list = try manager.list([String].self, ["parent"])
    let namespace = try manager.namespace()
    let lock = try manager.lock()
    let queue = try manager.queue(Int.self)
    let tally = try manager.object(Tally.self)
    _ = try tally.call(10)
    let child = Multiprocessing.Process(
      startMethod: method, entryPoint: managerClient,
      arguments: ManagerObjects(
        dictionary: dictionary, list: list, namespace: namespace, lock: lock, queue: queue, tally: tally))
    try child.start()
    let deadline = ContinuousClock.now + .seconds(20)
    while (try? namespace.names) != ["pid"], ContinuousClock.now < deadline { usleep(10_000) }
    let held = try !lock.acquire(timeout: .zero)
    try queue.put(41)
    let freed = try lock.acquire(timeout: .seconds(10))
    let answer = try queue.get(timeout: .seconds(10))
    try child.join(timeout: .seconds(10))
    let exitCode = try child.exitCode
    let keys = try dictionary.items().map(\.key)
    let elements = try list.snapshot()
    let pid = try namespace.value("pid", as: Int32.self)
    let total = try tally.call(0)
    let childPid = try child.pid
    let right =
      held && freed && answer == 42 && exitCode == 0 && keys == ["parent", "child"]
      && elements == ["parent", "child"] && pid == childPid && total == 15
    manager.shutdown()
    if !right { throw ProcessExit(1) }
  }

  /// Starts a manager (fork server), sends its handle through the managed queue it is given,
  /// and waits to be killed.
  public static let managerOwner = EntryPoint<ManagedQueue<Manager.Handle>.Handle>("manager-owner") { queue in
    let manager = try Manager()
    try ManagedQueue<Manager.Handle>(queue).put(manager.handle)
    while true { pause() }
  }

  /// Makes and drops every kind of shared object, queue and socket 50 times, with `/dev/shm`
  /// names under the prefix it is given, and exits with 2 for an entry left there, 3 for a
  /// socket that lost its message, 10 + N for N descriptors left open.
  public static let resourceRounds = EntryPoint<String>("resource-rounds") { prefix in
    let before = openDescriptorCount()
    for round in 0..<50 {
      let value = try SharedValue(round)
      let array = try SharedArray(repeating: round, count: 100)
      let lock = try Lock()
      let condition = try Condition(lock: lock)
      let barrier = try Barrier(parties: 1)
      let event = try Multiprocessing.Event()
      let semaphore = try BoundedSemaphore(value: 2)
      let reopened = try SharedValue<Int>(value.handle)
      let named = try SharedMemory.create(name: prefix + "\(round)", size: 4096)
      let attached = try SharedMemory.attach(name: named.name!)
      try named.unlink()
      try condition.withLock { try condition.notify() }
      try barrier.wait()
      event.set()
      semaphore.acquire()
      try semaphore.release()
      // Queues of both transports, and each reopened from its handle.
      let ring = try Queue<Int>(maxSize: 4)
      let pipe = try Queue<String>()
      try ring.put(round)
      try pipe.put("\(round)")
      _ = try (Queue<Int>(ring.handle).get(), Queue<String>(pipe.handle).get())
      // A listener of each kind, with a connection to it and the one it accepted.
      let listener = try Listener(
        round % 2 == 0 ? .loopback : .unix(path: NSTemporaryDirectory() + prefix + "socket-\(round)"))
      let client = try Connection.connect(to: listener.address)
      let server = try listener.accept()
      try client.sendBytes([UInt8(round)])
      guard try server.recvBytes() == [UInt8(round)] else { throw ProcessExit(3) }
      _ = (reopened.value, array[99], attached.size)
    }
    let leftover = try FileManager.default.contentsOfDirectory(atPath: "/dev/shm").filter { $0.hasPrefix(prefix) }
    guard leftover.isEmpty else { throw ProcessExit(2) }
    let after = openDescriptorCount()
    if after != before { throw ProcessExit(Int32(clamping: 10 + after - before)) }
  }

  /// Registers three exit hooks that append "a", "b" and "c" to the file at its path, and
  /// removes the second (twice); exits with 3 if it started with a hook, 4 if it was not left
  /// with two.
  public static let exitHooks = EntryPoint<String>("exit-hooks") { path in
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    guard registeredExitHookCount == 0 else { throw ProcessExit(3) }
    let hooks = ["a", "b", "c"].map { letter in atProcessExit { _ = letter.withCString { write(fd, $0, 1) } } }
    hooks[1].remove()
    hooks[1].remove()
    guard registeredExitHookCount == 2 else { throw ProcessExit(4) }
  }

  /// Makes, uses and ends `rounds` pools (the first terminated, the others closed), then
  /// leaves one running for its exit hook to end. Exits with 3 if a running pool had other
  /// than one exit hook registered, 4 if an ended one left its hook, 5 if the pools after the
  /// first left descriptors open, 6 if they left threads.
  public static let poolsEndingTheirHooks = EntryPoint<Int>("pools-ending-their-hooks") { rounds in
    func threadNames() -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).map {
        (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) ?? ""
      }
    }
    // An ended pool's thread releases the pool, and with it the pool's descriptors, on its
    // way out, after the join has returned: counted once it has gone.
    func settled() -> (descriptors: Int, threads: Int) {
      let deadline = ContinuousClock.now + .seconds(5)
      while threadNames().contains("mp-dispatcher\n"), ContinuousClock.now < deadline { usleep(1000) }
      return (openDescriptorCount(), threadNames().count)
    }
    func useAndEnd(round: Int) throws {
      let pool = try ProcessPool<Int, Int> { $0 + 1 }
      guard try pool.map([round]) == [round + 1], registeredExitHookCount == 1 else { throw ProcessExit(3) }
      if round == 0 { pool.terminate() } else { pool.close() }
      try pool.join()
      guard registeredExitHookCount == 0 else { throw ProcessExit(4) }
    }
    var afterFirst: (descriptors: Int, threads: Int)?
    for round in 0..<rounds {
      try useAndEnd(round: round)
      // The first pool starts what lives as long as the process (the forking thread).
      if afterFirst == nil { afterFirst = settled() }
    }
    let afterAll = settled()
    guard afterAll.descriptors == afterFirst?.descriptors else { throw ProcessExit(5) }
    guard afterAll.threads == afterFirst?.threads else { throw ProcessExit(6) }
    let running = try ProcessPool<Int, Int> { $0 }
    guard try running.map([1]) == [1], registeredExitHookCount == 1 else { throw ProcessExit(3) }
  }

  /// ``Summer``, registered for spawn and forkserver.
  public static let summerClass = ProcessClass(Summer.self)

  /// Every entry point above, for ``bootstrapMultiprocessing(entryPoints:)``.
  public static let all: [any AnyEntryPoint] =
    [
      report, sleep, exit, unset, cExit, fail, abort, segfault, checkBytes, trap, printLines, family, startChild,
      connectionEcho, exitHooks, poolsEndingTheirHooks,
      queueSummer, queueCloser, queueFlooder, managerClient, managerExercise, managerOwner, resourceRounds, summerClass,
    ] + SyncEntryPoints.all + PoolKernels.all
}

/// A managed type of the tests' own: a running total the manager's server keeps, which
/// answers each amount with the total after it, and throws for a negative one.
public final class Tally: ManagedObject {
  /// The name the server knows the type by.
  public static let typeName = "Tally"
  private var total = 0
  /// A tally at 0.
  public init() {}

  /// Adds `amount`; the new total.
  public func handle(_ amount: Int) throws -> Int {
    guard amount >= 0 else { throw TallyError.negative(amount) }
    total += amount
    return total
  }

  /// What a tally refuses.
  public enum TallyError: Error {
    case negative(Int)
  }
}

/// A `Process` subclass whose stored properties travel to its child: it writes the sum of its
/// numbers (plus 1000 when the child has the name the parent gave it) into a shared value.
public final class Summer: Multiprocessing.Process, Codable, @unchecked Sendable {
  // @unchecked: its properties are set before start and only read by run().
  /// The numbers to add.
  public var numbers: [Int]
  /// Where the sum goes.
  public var result: SharedValue<Int>.Handle

  /// A summer of `numbers` into `result`, named "summer".
  public init(numbers: [Int], result: SharedValue<Int>.Handle, startMethod: StartMethod) {
    self.numbers = numbers
    self.result = result
    super.init(name: "summer", startMethod: startMethod)
  }

  public override func run() throws {
    try SharedValue<Int>(result).value = numbers.reduce(0, +) + (name == "summer" ? 1000 : 0)
  }

  enum CodingKeys: String, CodingKey { case numbers, result }

  /// Decodes the numbers and where the sum goes.
  public required init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    numbers = try container.decode([Int].self, forKey: .numbers)
    result = try container.decode(SharedValue<Int>.Handle.self, forKey: .result)
    super.init()
  }

  /// Encodes the numbers and where the sum goes.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(numbers, forKey: .numbers)
    try container.encode(result, forKey: .result)
  }
}

/// A `Codable` subclass nobody registered.
public final class Unregistered: Multiprocessing.Process, Codable, @unchecked Sendable {
  // @unchecked: it has no state of its own.
  /// With `startMethod`.
  public init(startMethod: StartMethod) { super.init(startMethod: startMethod) }
  /// Decodes nothing.
  public required init(from decoder: any Decoder) throws { super.init() }
  /// Encodes nothing.
  public func encode(to encoder: any Encoder) throws {}
}
