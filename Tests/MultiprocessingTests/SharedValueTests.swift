import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A public-looking struct stored in shared memory (it says BitwiseCopyable, as a struct
/// from another module must).
struct Point: BitwiseCopyable, Equatable {
  var x: Double
  var y: Double
}

/// CPython's value, array and get_lock tests, with the writes made in child processes.
@Suite(.timeLimit(.minutes(3))) struct SharedValueTests {
  @Test func theTutorialExample() throws {
    let number = try SharedValue(0)
    let child = try forked { number.value = 99 }
    try child.join()
    #expect(number.value == 99)
  }

  @Test func pythonsValueAndArrayExample() throws {
    let number = try SharedValue(0.0)
    let array = try SharedArray(0..<10)
    let child = try forked {
      number.value = 3.1415927
      for index in array.indices { array[index] = -array[index] }
    }
    try child.join()
    #expect(number.value == 3.1415927)
    #expect(Array(array) == (0..<10).map { -$0 })
  }

  @Test func valuesOfSeveralTypes() throws {
    let int8 = try SharedValue<Int8>(-3)
    let uint64 = try SharedValue<UInt64>(.max)
    let point = try SharedValue(Point(x: 1, y: 2), lock: false)
    let flag = try SharedValue(false)
    let child = try forked {
      int8.value = 100
      uint64.value = 7
      point.value = Point(x: -1, y: 0.5)
      flag.value = true
    }
    try child.join()
    #expect(int8.value == 100)
    #expect(uint64.value == 7)
    #expect(point.value == Point(x: -1, y: 0.5))
    #expect(flag.value)
  }

  @Test func getLock() throws {
    let locked = try SharedValue(1)
    #expect(locked.getLock() is RLock, "Python's default lock is an RLock")
    let unlocked = try SharedValue(1, lock: false)
    #expect(unlocked.getLock() == nil)
    let lock = try Lock()
    let given = try SharedValue(1, lock: lock)
    #expect(given.getLock() === lock)
    try given.withLock { value in
      #expect(lock.locked)
      value += 1
    }
    #expect(!lock.locked)
    #expect(given.value == 2)
  }

  @Test func atomicOperationsAcrossTwoProcesses() throws {
    let counter = try SharedValue(0, lock: false)
    let children = try (0..<2).map { _ in try forked { for _ in 0..<100_000 { counter.add(1) } } }
    for child in children { try child.join() }
    #expect(counter.load() == 200_000)
    #expect(counter.compareExchange(expected: 200_000, desired: 5) == (true, 200_000))
    #expect(counter.compareExchange(expected: 200_000, desired: 6) == (false, 5))
    #expect(counter.add(10) == 5)
    #expect(counter.value == 15)
  }

  @Test func lockedIncrementsAcrossProcessesAreExact() throws {
    let counter = try SharedValue(0)
    let children = try (0..<2).map { _ in try forked { for _ in 0..<50_000 { try counter.withLock { $0 += 1 } } } }
    for child in children { try child.join() }
    #expect(counter.value == 100_000)
  }

  @Test func arraysLockAndBuffer() throws {
    let array = try SharedArray(repeating: 0, count: 1000, lock: true)
    #expect(array.count == 1000)
    #expect(array.getLock() is RLock, "Python's lock, on request")
    let children = try (0..<2).map { half in
      try forked {
        try array.withLock { buffer in for index in half * 500..<(half + 1) * 500 { buffer[index] = index } }
      }
    }
    for child in children { try child.join() }
    #expect(Array(array) == Array(0..<1000))
    let sum = array.withUnsafeMutableBufferPointer { $0.reduce(0, +) }
    #expect(sum == 499_500)
    let empty = try SharedArray<Int>([], lock: false)
    #expect(empty.isEmpty && empty.getLock() == nil)
  }

  /// Unlocked by default: the bulk path is the obvious one, and a view a kernel captures
  /// writes the same memory the parent reads.
  @Test func arraysAreUnlockedByDefaultWithACapturableView() throws {
    let array = try SharedArray(repeating: 0.0, count: 10_000)
    #expect(array.getLock() == nil)
    let cells = array.buffer
    let children = try (0..<2).map { half in
      try forked {
        let mine = cells[elements: half * 5000..<(half + 1) * 5000]
        for index in mine.indices { mine[index] = Double(half * 5000 + index) }
      }
    }
    for child in children { try child.join() }
    #expect(array.withUnsafeBufferPointer { $0.reduce(0, +) } == 49_995_000)
    #expect(cells.count == 10_000 && cells[9_999] == 9_999)

    let copied = try SharedArray(Array(0..<100_000))
    #expect(copied.elementsEqual(0..<100_000), "contiguous elements are copied in one step")
    let noncontiguous = try SharedArray((0..<10).lazy.map { $0 * 2 })
    #expect(Array(noncontiguous) == Array(stride(from: 0, to: 20, by: 2)))
  }

  /// A locked array whose holder died: the next subscript takes the lock over and reads on.
  @Test func aLockedSubscriptTakesOverADeadHoldersLock() throws {
    let array = try SharedArray(repeating: 7, count: 4, lock: true)
    let holder = try forked {
      _ = try array.getLock()!.acquire()
      _exit(0)
    }
    try holder.join()
    #expect(array.getLock()!.locked)
    array[2] = 9
    #expect(array[2] == 9 && !array.getLock()!.locked)
  }

  @Test func anOutOfRangeIndexTraps() throws {
    let array = try SharedArray(repeating: 1, count: 3, lock: false)
    let child = try forked {
      FileHandle.standardError.write(Data())
      dup2(open("/dev/null", O_WRONLY), 2)  // keep the trap's backtrace out of the test log
      _ = array[3]
    }
    try child.join()
    #expect([-SIGILL, -SIGTRAP].contains(try child.exitCode ?? 0))
  }

  @Test func badCounts() {
    #expect(throws: SynchronizationError.invalidArgument("a shared array's count must be 0 or more, not -2")) {
      try SharedArray(repeating: 0, count: -2)
    }
  }
}
