/// Where ``Lock`` and ``RLock`` keep their state: one ``LockCore`` (holder and recursion
/// depth) in a shared slot of its own, reopened from a handle that names the lock's kind.
struct LockStorage: Sendable {
  let kind: String
  let slot: SharedSlot

  /// A new, unlocked lock of `kind`.
  init(kind: String) throws {
    self.kind = kind
    slot = try SharedSlot(size: LockCore.size)
  }

  /// Reopens the lock a handle names, checking that it is a `kind`.
  init(_ handle: SharedHandle, kind: String) throws {
    self.kind = kind
    slot = try SharedSlot(handle, kind: kind, size: LockCore.size)
  }

  /// The lock's state.
  var core: LockCore { LockCore(slot.pointer) }

  /// What another process needs to reopen the lock.
  var handle: SharedHandle { slot.handle(kind: kind) }
}
