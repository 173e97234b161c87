/// A hook registered by ``atProcessExit(_:)``, which ``remove()`` unregisters.
///
/// A supervisor that ends before the process does removes its hook: the registry keeps only
/// the hooks of what still runs, rather than one per supervisor the process ever made (which
/// every fork template would also inherit and free).
public struct ProcessExitHook: Sendable, Hashable {
  /// The hook's place in the registry.
  let id: Int

  /// Unregisters the hook, so that it does not run at exit. Removing a hook that ran or was
  /// removed does nothing.
  public func remove() {
    ProcessRegistry.shared.lock.withLock {
      ProcessRegistry.shared.exitHooks.removeAll { $0.id == id }
    }
  }
}

/// Registers `hook` to run when this process exits normally, before its daemon children are
/// terminated: a supervisor (such as a process pool) stops there, so that it does not replace
/// the workers the exit ends. Hooks run in the order registered.
///
/// - Returns: The registration; ``ProcessExitHook/remove()`` it once what it stops has ended.
@discardableResult
public func atProcessExit(_ hook: @escaping @Sendable () -> Void) -> ProcessExitHook {
  ProcessRegistry.shared.lock.withLock {
    let registry = ProcessRegistry.shared
    registry.installExitHandlerLocked()
    registry.lastExitHookID += 1
    registry.exitHooks.append((registry.lastExitHookID, hook))
    return ProcessExitHook(id: registry.lastExitHookID)
  }
}

/// The number of exit hooks registered in this process, for the tests.
package var registeredExitHookCount: Int {
  ProcessRegistry.shared.lock.withLock { ProcessRegistry.shared.exitHooks.count }
}
