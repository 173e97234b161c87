import Foundation
import Logging
import SystemCalls

#if canImport(Glibc)
  import Glibc
#endif

/// A unit of work that runs in a process of its own: Python's `multiprocessing.Process`.
///
/// Give it a closure, or subclass it and override ``run()``; ``start()`` runs `run()` in a new
/// process, while calling `run()` directly runs it in the calling process, blocking, with no
/// new pid. `join(timeout:)` waits for the end; ``exitCode`` (or ``terminationStatus``) then tells how it ended: 0 on
/// success, 1 when the target threw (the child prints the error to standard error), the code
/// of a ``ProcessExit`` or an explicit `exit`, or the negative number of the signal that
/// killed it.
///
/// ```swift
/// let p = Process(name: "worker") { print("hello from", getpid()) }
/// try p.start()
/// try p.join()
/// print(try p.exitCode!)   // 0
/// ```
///
/// With ``StartMethod/spawn`` and ``StartMethod/forkserver`` the target must be a registered
/// ``EntryPoint``. A child never outlives its parent: it is killed when the parent dies, and
/// daemon children are terminated when the parent exits. In a module that also imports
/// Foundation, write `Multiprocessing.Process`.
///
/// The object may be shared between threads. A subclass that adds mutable state must make
/// that state safe itself.
open class Process: @unchecked Sendable {
  // @unchecked: every mutable field is read and written only under ProcessRegistry's lock.

  enum Target {
    case none
    case closure(() throws -> Void)
    case entryPoint(any AnyEntryPoint, encode: () throws(ProcessError) -> Data, run: () throws -> Void)
  }

  enum State {
    case created
    case starting
    case started(any ChildHandle)
    case closed
  }

  let target: Target
  let requestedStartMethod: StartMethod?
  /// The single-threaded process that forks this one, instead of this process (pool workers).
  let template: ForkserverClient?
  /// How many forks in a row stall before the entry, and how long to keep forking, for the
  /// tests of the handshake.
  var forkTestHooks = (stalls: 0, budget: Launcher.forkBudget)
  let identity: [Int]
  private var storedName: String
  private var storedDaemon: Bool
  private var state = State.created
  private var lastPid: pid_t?

  /// A process that runs `target` (or, with no target, does nothing unless a subclass
  /// overrides ``run()``).
  ///
  /// - Parameters:
  ///   - name: the process's name; `Process-N` by default, N counting the processes this
  ///     process created (`Process-1:2` for the second child of `Process-1`).
  ///   - daemon: whether the process is terminated when its parent exits (and may start no
  ///     children); by default, whether the creating process is a daemon, as in Python.
  ///   - startMethod: how to start it; the default start method when nil.
  ///   - target: the closure to run. It can only cross a ``StartMethod/fork``.
  public init(
    name: String? = nil, daemon: Bool? = nil, startMethod: StartMethod? = nil,
    target: (() throws -> Void)? = nil
  ) {
    self.target = target.map(Target.closure) ?? .none
    self.requestedStartMethod = startMethod
    template = nil
    (identity, storedName) = Self.newIdentity(name)
    storedDaemon = daemon ?? currentProcess().daemon
  }

  /// A process that runs a registered entry point with `arguments`; it can be started with
  /// every start method.
  public init<Arguments>(
    name: String? = nil, daemon: Bool? = nil, startMethod: StartMethod? = nil,
    entryPoint: EntryPoint<Arguments>, arguments: Arguments
  ) {
    self.target = .entryPoint(
      entryPoint, encode: { () throws(ProcessError) in try entryPoint.encode(arguments) },
      run: { try entryPoint.body(arguments) })
    self.requestedStartMethod = startMethod
    template = nil
    (identity, storedName) = Self.newIdentity(name)
    storedDaemon = daemon ?? currentProcess().daemon
  }

  /// A process that runs a registered entry point with arguments already encoded (as
  /// ``AnyEntryPoint/run(encodedArguments:)`` decodes them); it can be started with every
  /// start method.
  public convenience init(
    name: String? = nil, daemon: Bool? = nil, startMethod: StartMethod? = nil,
    entryPoint: any AnyEntryPoint, encodedArguments: Data
  ) {
    self.init(
      name: name, daemon: daemon ?? currentProcess().daemon, startMethod: startMethod, template: nil,
      entryPoint: entryPoint,
      encodedArguments: encodedArguments)
  }

  /// A process that `template` forks (when given) and that runs `entryPoint`, which the
  /// template knows, with arguments already encoded.
  package init(
    name: String?, daemon: Bool, startMethod: StartMethod?, template: ForkserverClient?,
    entryPoint: any AnyEntryPoint, encodedArguments: Data
  ) {
    self.target = .entryPoint(
      entryPoint, encode: { encodedArguments }, run: { try entryPoint.run(encodedArguments: encodedArguments) })
    self.requestedStartMethod = template == nil ? startMethod : .fork
    self.template = template
    (identity, storedName) = Self.newIdentity(name)
    storedDaemon = daemon
  }

  /// The object that stands for the main process.
  init(mainProcess: Void) {
    target = .none
    requestedStartMethod = nil
    template = nil
    identity = []
    storedName = "MainProcess"
    storedDaemon = false
  }

  /// The object a spawned or fork-server child makes of itself from what its parent sent.
  init(child description: ChildDescription, entryPoint: any AnyEntryPoint) {
    let arguments = description.arguments
    target = .entryPoint(entryPoint, encode: { arguments }, run: entryPoint.prepareRun(encodedArguments: arguments))
    requestedStartMethod = description.startMethod
    template = nil
    identity = description.identity
    storedName = description.name
    storedDaemon = description.daemon
  }

  private static func newIdentity(_ name: String?) -> ([Int], String) {
    ProcessRegistry.shared.lock.withLock {
      let registry = ProcessRegistry.shared
      registry.counter += 1
      let identity = registry.identity + [registry.counter]
      return (identity, name ?? "Process-" + identity.map(String.init).joined(separator: ":"))
    }
  }

  // MARK: Attributes

  /// The process's name, used in messages; settable at any time.
  public var name: String {
    get { ProcessRegistry.shared.lock.withLock { storedName } }
    set { ProcessRegistry.shared.lock.withLock { storedName = newValue } }
  }

  /// Whether the process is a daemon: terminated when its parent exits, and not allowed to
  /// start children. Set it at creation or with ``setDaemon(_:)`` before ``start()``.
  public var daemon: Bool {
    ProcessRegistry.shared.lock.withLock { storedDaemon }
  }

  /// Makes the process a daemon or not, before it starts.
  ///
  /// - Throws: ``ProcessError/daemonAfterStart(name:)`` once ``start()`` was called (Python
  ///   raises too), ``ProcessError/closed(name:)`` after ``close()``.
  public func setDaemon(_ daemon: Bool) throws(ProcessError) {
    try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) in
      try checkNotClosedLocked()
      guard case .created = state, !isCurrentLocked else { throw .daemonAfterStart(name: storedName) }
      storedDaemon = daemon
    }
  }

  /// The process id: nil before ``start()``; this process's own id for ``currentProcess()``.
  ///
  /// - Throws: ``ProcessError/closed(name:)`` after ``close()`` (the id may belong to another
  ///   process by then), as Python raises.
  public var pid: Int32? {
    get throws(ProcessError) {
      try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) -> Int32? in
        try checkNotClosedLocked()
        return isCurrentLocked ? getpid() : lastPid
      }
    }
  }

  /// The start method ``start()`` uses (the default one when none was given).
  public var startMethod: StartMethod { requestedStartMethod ?? getStartMethod() }

  /// Whether the process has started and not yet ended. A finished child is reaped here.
  ///
  /// - Throws: ``ProcessError/closed(name:)`` after ``close()``.
  public var isAlive: Bool {
    get throws {
      try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) -> Bool in
        try checkNotClosedLocked()
        if isCurrentLocked { return true }
        guard case .started = state else { return false }
        if pollLocked() == nil { return true }
        ProcessRegistry.shared.children.removeAll { $0 === self }
        return false
      }
    }
  }

  /// Whether the process is stuck for good: it has one thread, which waits with no timeout
  /// on a lock private to its process (a `pthread_mutex`, the Swift runtime's, `malloc`'s) —
  /// as a child forked while another thread of its parent held that lock waits once it takes
  /// it. Nothing can wake it: kill it. False while it runs, sleeps on anything else (this
  /// package's locks, a pipe, a timer), has other threads, or has ended.
  ///
  /// - Throws: ``ProcessError/closed(name:)`` after ``close()``.
  public var isStuckOnInheritedLock: Bool {
    get throws(ProcessError) { try inheritedLockAddress != nil }
  }

  /// Where the lock lies that the process waits on for good (``isStuckOnInheritedLock``), as
  /// its memory map names the place (`0x7f… in /usr/lib/libx.so, file offset 0x1c0c0`,
  /// `[heap]`, an anonymous mapping and the file's mapping it follows): whose lock it is. Nil
  /// while the process is not stuck so.
  package var inheritedLock: String? {
    get throws(ProcessError) { try inheritedLockAddress.map { SystemCall.place(of: $0.lock, in: $0.pid) } }
  }

  /// The process's id and the address of the lock it waits on for good; nil while it does not.
  private var inheritedLockAddress: (pid: pid_t, lock: Int)? {
    get throws(ProcessError) {
      guard let pid = try pid, pid != getpid(), (try? isAlive) == true,
        let address = SystemCall.privateLockWaitedOnForGood(by: pid)
      else { return nil }
      return (pid, address)
    }
  }

  /// How the process ended: nil while it runs (or before it starts), 0 on success, 1 when the
  /// target threw, the code given to ``ProcessExit`` or `exit`, or `-signal` when a signal
  /// killed it.
  ///
  /// - Throws: ``ProcessError/closed(name:)`` after ``close()``.
  public var exitCode: Int32? {
    get throws(ProcessError) { try terminationStatus?.exitCode }
  }

  /// How the process ended (``TerminationStatus/exited(_:)`` or
  /// ``TerminationStatus/signaled(_:)``), or nil while it runs or before it starts.
  ///
  /// - Throws: ``ProcessError/closed(name:)`` after ``close()``.
  public var terminationStatus: TerminationStatus? {
    get throws(ProcessError) {
      try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) -> TerminationStatus? in
        try checkNotClosedLocked()
        return pollLocked()
      }
    }
  }

  /// A descriptor that becomes readable when the process ends (a pidfd, or the fork
  /// server's status channel), for `poll`/`epoll` loops. It stays owned by the process.
  ///
  /// - Throws: ``ProcessError/notStarted(name:)`` or ``ProcessError/closed(name:)``.
  public var sentinel: Int32 {
    get throws { try handle().sentinel }
  }

  // MARK: Running

  /// The process's work. Runs the target by default; a subclass overrides it. ``start()``
  /// calls it in the new process; calling it directly runs it here, in the calling process.
  open func run() throws {
    switch target {
    case .none: break
    case .closure(let body): try body()
    case .entryPoint(_, _, let run): try run()
    }
  }

  /// Starts the process: `run()` runs in a new process, created by ``startMethod``.
  ///
  /// - Throws: ``ProcessError/alreadyStarted(name:)``, ``ProcessError/closed(name:)``,
  ///   ``ProcessError/daemonCannotHaveChildren(name:)`` when this process is a daemon,
  ///   ``ProcessError/needsEntryPoint(name:method:)`` for a closure target with spawn or
  ///   forkserver, ``ProcessError/entryPointNotRegistered(_:)``, or a system error.
  public func start() throws(ProcessError) {
    let method = startMethod
    let (name, daemon, hooks) = try beginStart(method)
    let handle: any ChildHandle
    do throws(ProcessError) {
      if method == .fork && template == nil {
        handle = try Launcher.fork(self, name: name, stalls: hooks.stalls, budget: hooks.budget)
      } else {
        let description = try childDescription(name: name, daemon: daemon)
        if let template {
          handle = try template.launch(description)
        } else {
          handle =
            method == .spawn
            ? try Launcher.spawn(description) : try ForkserverClient.shared().launch(description)
        }
      }
    } catch {
      abandonStart()
      throw error
    }
    finishStart(handle, method: method)
  }

  /// A start asked of a fork template, whose child's pid has not been read yet
  /// (``requestStart()``).
  package struct PendingStart {
    let process: Process
    let method: StartMethod
    let request: ForkserverClient.PendingChild

    /// Waits for the template's answer and records the started child.
    ///
    /// - Throws: ``ProcessError/forkserver(_:)`` when the template does not answer; the process
    ///   is then not started.
    package func finish() throws(ProcessError) {
      do {
        process.finishStart(try request.child(), method: method)
      } catch {
        process.abandonStart()
        throw error
      }
    }

    /// Gives the start up: the process is not started, and a child the template forked for
    /// it finds its status socket closed (it ends when its entry point ends, or with the
    /// template).
    package func abandon() {
      request.abandon()
      process.abandonStart()
    }
  }

  /// Asks this process's fork template for its child without waiting for the pid: a caller
  /// starting several asks for each before it finishes the first
  /// (``PendingStart/finish()``), and its work on one request overlaps the template's fork
  /// of the one before.
  ///
  /// - Throws: what ``start()`` throws.
  package func requestStart() throws(ProcessError) -> PendingStart {
    guard let template else { preconditionFailure("requestStart() is for processes of a fork template") }
    let method = startMethod
    let (name, daemon, _) = try beginStart(method)
    do throws(ProcessError) {
      let description = try childDescription(name: name, daemon: daemon)
      return PendingStart(process: self, method: method, request: try template.request(description))
    } catch {
      abandonStart()
      throw error
    }
  }

  /// Checks that the process may start by `method` and marks it starting: its name, whether
  /// it is a daemon, and the fork tests' hooks.
  private func beginStart(
    _ method: StartMethod
  ) throws(ProcessError) -> (String, Bool, (stalls: Int, budget: Duration)) {
    try ProcessRegistry.shared.lock.withLock {
      () throws(ProcessError) -> (String, Bool, (stalls: Int, budget: Duration)) in
      let registry = ProcessRegistry.shared
      switch state {
      case .closed: throw .closed(name: storedName)
      case .starting, .started: throw .alreadyStarted(name: storedName)
      case .created: if isCurrentLocked { throw .alreadyStarted(name: storedName) }
      }
      if let current = registry.current, current.storedDaemon {
        throw .daemonCannotHaveChildren(name: current.storedName)
      }
      if method != .fork || template != nil {
        if type(of: self) != Process.self, case .none = target, self is any Encodable {
          // A Codable subclass: encoded, and decoded by its registered ProcessClass.
          let className = processClassName(type(of: self))
          guard registry.entryPoints[className] != nil else { throw .entryPointNotRegistered(className) }
        } else {
          guard case .entryPoint(let entryPoint, _, _) = target, type(of: self) == Process.self else {
            throw .needsEntryPoint(name: storedName, method: method)
          }
          guard template != nil || registry.entryPoints[entryPoint.name] != nil else {
            throw .entryPointNotRegistered(entryPoint.name)
          }
        }
      }
      state = .starting
      registry.installExitHandlerLocked()
      return (storedName, storedDaemon, forkTestHooks)
    }
  }

  /// What a spawned or fork-server child is told to become.
  private func childDescription(name: String, daemon: Bool) throws(ProcessError) -> ChildDescription {
    let (entryName, arguments) = try launchTarget()
    return ChildDescription(
      entryPoint: entryName, arguments: arguments, name: name, identity: identity, daemon: daemon,
      startMethod: requestedStartMethod, parentPid: getpid(), parentName: currentProcess().name)
  }

  /// Back to not started, after a start that failed.
  private func abandonStart() {
    ProcessRegistry.shared.lock.withLock { state = .created }
  }

  /// Records the child started by `method`.
  private func finishStart(_ handle: any ChildHandle, method: StartMethod) {
    ProcessRegistry.shared.lock.withLock {
      state = .started(handle)
      lastPid = handle.pid
      ProcessRegistry.shared.children.append(self)
    }
    multiprocessingLogger.debug("started \(name) (pid \(handle.pid)) with \(method)")
  }

  /// The entry point a spawned or fork-server child runs, and its encoded arguments: the
  /// target's, or a registered Codable subclass encoded whole.
  private func launchTarget() throws(ProcessError) -> (String, Data) {
    if case .entryPoint(let entryPoint, let encode, _) = target { return (entryPoint.name, try encode()) }
    guard let encodable = self as? any Encodable else { preconditionFailure("checked in start()") }
    do {
      return (processClassName(type(of: self)), try BinaryEncoder().encode(encodable))
    } catch {
      throw .arguments(entryPoint: processClassName(type(of: self)), reason: "\(error)")
    }
  }

  /// Takes the name the child was started under (a subclass decoded in a spawned child was
  /// made with a new one).
  func adoptCurrentName() {
    let name = currentProcess().name
    ProcessRegistry.shared.lock.withLock { storedName = name }
  }

  /// Waits until the process ends, or `timeout` passes (nil: no limit).
  ///
  /// A child of the fork start method is looked at every 100 ms meanwhile: one that waits for
  /// good on a lock it inherited held (``isStuckOnInheritedLock``) is killed, and the join
  /// throws instead of waiting for ever.
  ///
  /// - Returns: how the process ended — the value ``terminationStatus`` has from now on, with
  ///   no `try` — or nil when the timeout passed first.
  /// - Throws: ``ProcessError/stuckOnInheritedLock(name:pid:lock:)``, ``ProcessError/notStarted(name:)``,
  ///   ``ProcessError/cannotJoinSelf(name:)`` or ``ProcessError/closed(name:)``.
  @discardableResult
  public func join(timeout: Duration? = nil) throws(ProcessError) -> TerminationStatus? {
    let handle = try joinableHandle()
    let deadline = timeout.map { ContinuousClock.now + $0 }
    let watched = mayInheritHeldLocks
    while true {
      if finishIfEnded() { return handle.poll() }
      let left = deadline.map { $0 - .now }
      if let left, left <= .zero { return nil }
      let wait = watched ? min(left ?? Self.stuckCheckInterval, Self.stuckCheckInterval) : left
      if pollReadable([handle.sentinel], timeout: wait).isEmpty && watched { try endIfStuck(handle) }
    }
  }

  /// How often a join, a pool, a team's call or `parallelMap` looks at the children it forked
  /// for one waiting for good on a lock it inherited held.
  package static let stuckCheckInterval = Duration.milliseconds(100)

  /// Whether the process is a fork of this one made by the fork start method, which may have
  /// inherited a lock held by another thread (a fork template's children come from its one
  /// thread; a fork server's and spawned children, from single-threaded processes).
  private var mayInheritHeldLocks: Bool { template == nil && startMethod == .fork }

  /// When the process waits for good on a lock it inherited held: kills it, waits until it has
  /// ended, and throws ``ProcessError/stuckOnInheritedLock(name:pid:lock:)``.
  private func endIfStuck(_ handle: any ChildHandle) throws(ProcessError) {
    guard let lock = try inheritedLock, let pid = try pid else { return }
    handle.send(SIGKILL)
    while !finishIfEnded() { _ = pollReadable([handle.sentinel], timeout: nil) }
    multiprocessingLogger.warning(
      "killed a forked child stuck on a lock it inherited",
      metadata: ["process": "\(name)", "pid": "\(pid)", "lock": "\(lock)"])
    throw .stuckOnInheritedLock(name: name, pid: pid, lock: lock)
  }

  /// Waits, without blocking a thread of the cooperative pool, until the process ends,
  /// `timeout` passes (nil: no limit) or the task is cancelled: one watcher thread waits on
  /// the sentinels of every async join. In async code `try await p.join()` picks this one.
  ///
  /// - Returns: how the process ended, or nil when the timeout passed or the task was
  ///   cancelled first.
  /// - Throws: as ``join(timeout:)``.
  @discardableResult
  public func join(timeout: Duration? = nil) async throws(ProcessError) -> TerminationStatus? {
    let handle = try joinableHandle()
    let deadline = timeout.map { ContinuousClock.now + $0 }
    let watched = mayInheritHeldLocks
    while !finishIfEnded() {
      if Task.isCancelled { return nil }
      if let deadline, deadline <= .now { return nil }
      let look = ContinuousClock.now + Self.stuckCheckInterval
      await ExitWatcher.shared.waitReadable(handle.sentinel, deadline: watched ? min(deadline ?? look, look) : deadline)
      if watched && !finishIfEnded() { try endIfStuck(handle) }
    }
    return handle.poll()
  }

  /// Asks the process to end (SIGTERM). Does nothing once it has ended.
  ///
  /// - Throws: ``ProcessError/notStarted(name:)`` or ``ProcessError/closed(name:)``.
  public func terminate() throws(ProcessError) {
    try send(SIGTERM)
  }

  /// Kills the process (SIGKILL). Does nothing once it has ended.
  ///
  /// - Throws: ``ProcessError/notStarted(name:)`` or ``ProcessError/closed(name:)``.
  public func kill() throws(ProcessError) {
    try send(SIGKILL)
  }

  /// Releases the process's resources (its descriptors). Any later use throws
  /// ``ProcessError/closed(name:)``; closing twice is harmless.
  ///
  /// - Throws: ``ProcessError/stillRunning(name:)`` while the process runs.
  public func close() throws(ProcessError) {
    try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) in
      switch state {
      case .closed: return
      case .starting: throw .stillRunning(name: storedName)
      case .started(let handle):
        guard handle.poll() != nil else { throw .stillRunning(name: storedName) }
        handle.close()
        ProcessRegistry.shared.children.removeAll { $0 === self }
      case .created: break
      }
      state = .closed
    }
  }

  /// Waits until at least one of `processes` has ended, or `timeout` passes, and returns
  /// those that have ended (empty on timeout), as Python's `multiprocessing.connection.wait`.
  ///
  /// - Throws: ``ProcessError/notStarted(name:)`` or ``ProcessError/closed(name:)`` for a
  ///   process that cannot be waited on.
  public static func wait(_ processes: [Process], timeout: Duration? = nil) throws(ProcessError) -> [Process] {
    var handles: [any ChildHandle] = []
    for process in processes { handles.append(try process.handle()) }
    var ended = ProcessRegistry.shared.lock.withLock { handles.indices.filter { handles[$0].poll() != nil } }
    if ended.isEmpty {
      let ready = pollReadable(handles.map { $0.sentinel }, timeout: timeout)
      ended = handles.indices.filter { ready.contains(handles[$0].sentinel) }
    }
    return ended.map { processes[$0] }
  }

  // MARK: Internals

  private var isCurrentLocked: Bool { ProcessRegistry.shared.current === self }

  private func checkNotClosedLocked() throws(ProcessError) {
    if case .closed = state { throw .closed(name: storedName) }
  }

  /// The exit code if the process started and ended; called with the registry lock held.
  func pollLocked() -> TerminationStatus? {
    guard case .started(let handle) = state else { return nil }
    return handle.poll()
  }

  private func handle() throws(ProcessError) -> any ChildHandle {
    try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) -> any ChildHandle in
      try checkNotClosedLocked()
      guard case .started(let handle) = state else { throw .notStarted(name: storedName) }
      return handle
    }
  }

  private func joinableHandle() throws(ProcessError) -> any ChildHandle {
    if ProcessRegistry.shared.lock.withLock({ isCurrentLocked }) { throw .cannotJoinSelf(name: name) }
    return try handle()
  }

  /// Whether the process has ended; if so it leaves the list of active children.
  private func finishIfEnded() -> Bool {
    ProcessRegistry.shared.lock.withLock {
      guard pollLocked() != nil else { return false }
      ProcessRegistry.shared.children.removeAll { $0 === self }
      return true
    }
  }

  private func send(_ signal: Int32) throws(ProcessError) {
    try ProcessRegistry.shared.lock.withLock { () throws(ProcessError) in
      try checkNotClosedLocked()
      guard case .started(let handle) = state else { throw .notStarted(name: storedName) }
      handle.send(signal)
    }
  }
}
