/// The entry points a program registered, looked up by name.
///
/// A list, not a dictionary keyed by name: a program registers a few, and the first
/// dictionary keyed by `String` in a process has the Swift runtime check that `String` is
/// `Hashable` by a scan of every conformance record of the program (a twentieth of a
/// millisecond of every spawned child's start, in which it was the last such scan).
struct EntryPointTable {
  private var entries: [any AnyEntryPoint] = []

  /// The entry point called `name`; setting one replaces the one of that name, nil removes it.
  subscript(name: String) -> (any AnyEntryPoint)? {
    get { entries.first { $0.name == name } }
    set {
      entries.removeAll { $0.name == name }
      if let newValue { entries.append(newValue) }
    }
  }

  /// Registers `entryPoint` under `name`, and returns the one it replaced.
  mutating func updateValue(_ entryPoint: any AnyEntryPoint, forKey name: String) -> (any AnyEntryPoint)? {
    let replaced = self[name]
    self[name] = entryPoint
    return replaced
  }
}
