import Multiprocessing

/// README, "Shared memory and synchronisation".
func sharedObjectsExample() throws {
  let number = try SharedValue(0)  // guarded by a new RLock, as in Python
  let squares = try SharedArray(repeating: 0, count: 8)  // no lock by default: sweeps are the common use
  let p = Process {
    number.value = 99
    for i in squares.indices { squares[i] = i * i }
  }
  try p.start(); try p.join()
  print(number.value, Array(squares))  // 99 [0, 1, 4, 9, 16, 25, 36, 49]

  try number.withLock { $0 += 1 }  // read-modify-write under the lock
  let hits = try SharedValue(0, lock: false)
  hits.add(1)  // lock-free atomic add / compareExchange on integers
}

/// README, "Shared memory and synchronisation": a shared matrix and its views.
func sharedMatrixExample() throws {
  let grid = try SharedMatrix(rows: 1024, columns: 1024, repeating: 0.0)
  let band = grid.view.rows(0..<512)  // rows keep the grid's indices
  band[3, 4] = 1.5
  let cells = grid.row(3)  // a SharedBuffer; withUnsafeBufferPointer for raw loops
  print(cells[4])  // 1.5
}

struct Plan: Codable, Sendable { var counter: SharedValue<Int>.Handle; var done: SharedHandle }
let count = EntryPoint<Plan>("count") { plan in
  let counter = try SharedValue<Int>(plan.counter)
  for _ in 0..<1000 { try counter.withLock { $0 += 1 } }
  try Event(plan.done).set()
}
// parent: Process(startMethod: .spawn, entryPoint: count,
//                 arguments: Plan(counter: counter.handle, done: done.handle))
