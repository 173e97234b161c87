#if canImport(Glibc)
  import Glibc
#endif

/// The process-wide state of the process API: who this process is, its children, the default
/// start method, the registered entry points, and the fork server connection.
final class ProcessRegistry: @unchecked Sendable {
  // @unchecked: every field below `lock` is read and written only while holding `lock`.
  static let shared = ProcessRegistry()

  let lock = ForkSafeLock()
  /// The default start method, once fixed.
  var startMethod: StartMethod?
  /// Counts the processes created here, for `Process-N` names.
  var counter = 0
  /// This process's place in the family: [] in the main process, [1] in Process-1, [1, 2]…
  var identity: [Int] = []
  /// The object standing for this process; made on first use in the main process.
  var current: Process?
  /// The parent, in a child.
  var parent: ParentProcess?
  /// Started children not yet known to have ended and been joined.
  var children: [Process] = []
  /// Entry points registered by `bootstrapMultiprocessing(entryPoints:)`.
  var entryPoints = EntryPointTable()
  /// The program spawned children and the fork server run.
  var executable = "/proc/self/exe"
  /// The connection to the fork server, once started.
  var forkserver: ForkserverClient?
  /// Whether the exit handler that ends daemon children is installed.
  var exitHandlerInstalled = false
  /// Run first by the exit handler (pools stop supervising before their workers end), in
  /// the order registered, each under the id its ``ProcessExitHook`` removes it by.
  var exitHooks: [(id: Int, run: @Sendable () -> Void)] = []
  /// The id of the last exit hook registered.
  var lastExitHookID = 0

  /// Makes this registry describe a fresh child; called with the lock held or reinitialised.
  func becomeChild(current process: Process, identity: [Int], parent: ParentProcess) {
    counter = 0
    self.identity = identity
    current = process
    self.parent = parent
    children = []
    forkserver = nil
    exitHooks = []
  }

  /// The entry point registered under `name`, if any.
  func entryPoint(named name: String) -> (any AnyEntryPoint)? {
    lock.withLock { entryPoints[name] }
  }

  /// Makes this registry describe a fork template that serves children running `entryPoint`;
  /// called in the freshly forked template, whose lock is reinitialised.
  func becomeTemplate(serving entryPoint: any AnyEntryPoint) {
    lock.withLock {
      children = []
      forkserver = nil
      exitHooks = []
      entryPoints[entryPoint.name] = entryPoint
    }
  }

  /// Installs, once, the exit handler that terminates daemon children and joins the others
  /// when this process exits normally, as Python does.
  func installExitHandlerLocked() {
    guard !exitHandlerInstalled else { return }
    exitHandlerInstalled = true
    atexit { ProcessRegistry.shared.finishChildren() }
  }

  /// Runs the exit hooks, terminates the daemon children that are still running, then joins
  /// every child.
  ///
  /// Every forked child runs this on its way out, so it builds no type (``ChildRunner/warmedUp``
  /// runs ``finish(hooks:children:)`` once in the parent) and makes no key path: `exitHooks.map(\.run)` instantiated
  /// `WritableKeyPath`'s metadata at run time in a debug build, under the runtime's lock for
  /// key path types, which another thread of the parent (the test runner's) held at the fork
  /// now and then; the child then waited for good (found with gdb on a stuck child).
  func finishChildren() {
    let hooks = lock.withLock {
      defer { exitHooks = [] }
      return exitHooks
    }
    let running = lock.withLock { children }
    Self.finish(hooks: hooks, children: running)
  }

  /// Runs `hooks`, terminates the daemons among `children` that still run, joins them all.
  static func finish(hooks: [(id: Int, run: @Sendable () -> Void)], children: [Process]) {
    for hook in hooks { hook.run() }
    for child in children where child.daemon {
      if (try? child.isAlive) == true { try? child.terminate() }
    }
    for child in children { _ = try? child.join() }
  }
}

/// This process's ``Process`` object: `MainProcess` in the main process, the started object
/// in a child.
public func currentProcess() -> Process {
  ProcessRegistry.shared.lock.withLock {
    if let current = ProcessRegistry.shared.current { return current }
    let main = Process(mainProcess: ())
    ProcessRegistry.shared.current = main
    return main
  }
}

/// The parent of this process, or nil in the main process.
public func parentProcess() -> ParentProcess? {
  ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.parent }
}

/// The children of this process that are still running. Finished ones are reaped (their exit
/// codes recorded) and dropped from the list, as Python's `active_children()` does.
public func activeChildren() -> [Process] {
  ProcessRegistry.shared.lock.withLock {
    let registry = ProcessRegistry.shared
    registry.children.removeAll { $0.pollLocked() != nil }
    return registry.children
  }
}

/// Sets the program that ``StartMethod/spawn`` and ``StartMethod/forkserver`` run
/// (`/proc/self/exe`, this program, by default), as Python's `set_executable`. The program
/// must call ``bootstrapMultiprocessing(entryPoints:managedTypes:)`` with the same entry points first
/// thing in `main`; tests use it to run a helper executable instead of the test runner.
public func setExecutable(_ path: String) {
  ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.executable = path }
}
