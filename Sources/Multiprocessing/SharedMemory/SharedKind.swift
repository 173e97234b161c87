/// The names that shared objects' handles record for their types (`SharedValue<Int>`), built
/// once per type and process and kept.
///
/// Building a type's name takes the Swift runtime's type-name lock. A child forked while
/// another thread of its parent held that lock would wait on it for ever when it reopens a
/// shared object from its handle; with the name kept here, a child finds every name its
/// parent built (the parent builds it to make the handle) and takes no runtime lock. The
/// cache's own lock is reinitialised in every forked child.
final class SharedKinds: @unchecked Sendable {
  // @unchecked: `names` is read and written only under `lock`.
  static let shared = SharedKinds()

  let lock = ForkSafeLock()
  /// A list, not a dictionary: a process has a few shared kinds, and the first dictionary
  /// keyed by `ObjectIdentifier` in a process checks that it is `Hashable` by a scan of every
  /// conformance record of the program (in a process's first pool, whose channels are shared).
  private var names: [(key: ObjectIdentifier, name: String)] = []

  /// The name of `type`, made by `make` the first time in this process (or its parents).
  func name(of type: Any.Type, _ make: () -> String) -> String {
    let key = ObjectIdentifier(type)
    if let name = lock.withLock({ names.first { $0.key == key }?.name }) { return name }
    let name = make()
    lock.withLock { if !names.contains(where: { $0.key == key }) { names.append((key, name)) } }
    return name
  }
}
