extension Array {
  /// Whether any element satisfies `predicate`, tried by index.
  ///
  /// For the dispatcher's lists of a generic pool's workers, instead of `contains(where:)`:
  /// that `Sequence` method ran unspecialised there, and its first use in a process had the
  /// Swift runtime look the array's iterator type up by name, checking its requirements by a
  /// scan of every conformance record of the program, while the process's first pool waited
  /// for its first result.
  func anyWorker(where predicate: (Element) -> Bool) -> Bool {
    for index in indices where predicate(self[index]) { return true }
    return false
  }

  /// Whether every element satisfies `predicate`, tried by index (see ``anyWorker(where:)``).
  func everyWorker(_ predicate: (Element) -> Bool) -> Bool {
    !anyWorker { !predicate($0) }
  }

  /// The non-nil numbers `number` gives for the elements, in order, gathered by index (see
  /// ``anyWorker(where:)``; `compactMap` there was the same scan).
  func workerNumbers(_ number: (Element) -> Int32?) -> [Int32] {
    var gathered: [Int32] = []
    for index in indices {
      if let value = number(self[index]) { gathered.append(value) }
    }
    return gathered
  }
}
