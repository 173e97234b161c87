/// How a ``Process`` is created.
public enum StartMethod: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
  /// `fork()`: the child is a copy of the parent, so closures and everything they capture
  /// cross freely. The default on Linux. Only plain synchronous code is safe in the child when
  /// the parent used Dispatch or Swift concurrency.
  case fork
  /// Re-executes the program, which calls ``bootstrapMultiprocessing(entryPoints:managedTypes:)`` first
  /// thing in `main`; the target is a registered ``EntryPoint`` with `Codable` arguments.
  case spawn
  /// A single-threaded server process, started on first use from a fresh run of the program,
  /// forks the children; safe however many threads the parent has. Targets as for ``spawn``.
  case forkserver

  /// The method's name, as Python spells it.
  public var description: String { rawValue }
}

/// Every start method this platform supports, the default first.
public var allStartMethods: [StartMethod] { StartMethod.allCases }

/// A start method bound to the process API, as Python's `multiprocessing.get_context(method)`.
public struct Context: Sendable, Hashable {
  /// The method processes made through this context start with.
  public let startMethod: StartMethod

  /// A process whose target is a closure (``StartMethod/fork`` only).
  public func process(
    name: String? = nil, daemon: Bool = false, target: @escaping () throws -> Void
  ) -> Process {
    Process(name: name, daemon: daemon, startMethod: startMethod, target: target)
  }

  /// A process whose target is a registered entry point (every start method).
  public func process<Arguments>(
    name: String? = nil, daemon: Bool = false, entryPoint: EntryPoint<Arguments>, arguments: Arguments
  ) -> Process {
    Process(name: name, daemon: daemon, startMethod: startMethod, entryPoint: entryPoint, arguments: arguments)
  }
}

/// A context for `method`, or for the default start method when `method` is nil (which, as
/// in Python, fixes the default).
public func getContext(_ method: StartMethod? = nil) -> Context {
  Context(startMethod: method ?? getStartMethod())
}

/// The start method processes use when none is given. The first call fixes it (to
/// ``StartMethod/fork`` unless ``setStartMethod(_:force:)`` chose another).
public func getStartMethod() -> StartMethod {
  ProcessRegistry.shared.lock.withLock {
    let method = ProcessRegistry.shared.startMethod ?? .fork
    ProcessRegistry.shared.startMethod = method
    return method
  }
}

/// The start method if one was fixed, else nil; unlike ``getStartMethod()`` it fixes nothing.
public func getStartMethod(allowNone: Bool) -> StartMethod? {
  allowNone ? ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.startMethod } : getStartMethod()
}

/// Sets the default start method. As in Python it can be set once; `force: true` changes it
/// again, and `nil` with `force: true` unsets it.
///
/// - Throws: ``ProcessError/startMethodAlreadySet(_:)`` when a method is already fixed and
///   `force` is false.
public func setStartMethod(_ method: StartMethod?, force: Bool = false) throws {
  try ProcessRegistry.shared.lock.withLock {
    if let current = ProcessRegistry.shared.startMethod, !force {
      throw ProcessError.startMethodAlreadySet(current)
    }
    ProcessRegistry.shared.startMethod = method
  }
}
