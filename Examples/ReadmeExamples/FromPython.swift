import ComputeEngine
import Foundation
import Multiprocessing

// The side-by-side patterns of Multiprocessing's article "Coming from Python's
// multiprocessing", compiled here so that they cannot drift. Each function is one pattern.

/// `with Pool() as pool: squares = pool.map(square, range(10))`
func pythonPoolMap() throws {
  let pool = try ProcessPool<Int, Int> { $0 * $0 }
  let squares = try pool.map(Array(0..<10))
  print(squares)
  pool.close()
  try pool.join()
}

/// `for result in pool.imap(slow, range(1000)): print(result)`
func pythonImap() async throws {
  let pool = try ProcessPool<Int, Int> { $0 + 1 }
  for try await result in pool.imap(0..<1000) { print(result) }
}

/// `q = Queue(); p = Process(target=produce, args=(q,)); p.start(); print(q.get()); p.join()`
func pythonProcessAndQueue() throws {
  let queue = try Queue<String>()
  let producer = Process { try queue.put("hello from the child") }
  try producer.start()
  print(try queue.get(timeout: .seconds(10)))
  try producer.join()
}

/// `counter = Value('i', 0)`, then in each process `with counter.get_lock(): counter.value += 1`
func pythonValueWithALock() throws {
  let counter = try SharedValue(0)
  let workers = (0..<4).map { _ in Process { for _ in 0..<1000 { try counter.withLock { $0 += 1 } } } }
  for worker in workers { try worker.start() }
  for worker in workers { try worker.join() }
  print(counter.value)  // 4000
}

/// `parent, child = Pipe(); p = Process(target=echo, args=(child,))`
func pythonPipe() throws {
  let (parentEnd, childEnd) = try Connection.pipe()
  let echo = Process { try childEnd.send(try childEnd.recv(String.self).uppercased()) }
  try echo.start()
  childEnd.close()
  try parentEnd.send("ping")
  print(try parentEnd.recv(String.self))  // PING
  try echo.join()
}

/// `Pool(initializer=setup)`: run once in each worker before its first task.
func pythonInitializer() throws {
  let pool = try ProcessPool<Int, Int>(initializer: { setenv("WORKER_READY", "1", 1) }) { input in
    getenv("WORKER_READY") != nil ? input : -1
  }
  print(try pool.map([1, 2, 3]))  // [1, 2, 3]
}

/// `set_start_method('spawn')` and a target defined at module level.
// Registered first thing in main: Python's `if __name__ == "__main__":`.
let shout = EntryPoint<String>("shout") { text in print(text.uppercased()) }
// main: bootstrapMultiprocessing(entryPoints: [shout])
func pythonSpawn() throws {
  let child = getContext(.spawn).process(entryPoint: shout, arguments: "hello")
  try child.start()
  try child.join()
}

/// `p = Process(target=serve, daemon=True); p.start(); ...; p.terminate(); p.join()`
func pythonDaemonAndTerminate() throws {
  let server = Process(daemon: true) { while true { sleep(1) } }
  try server.start()
  try server.terminate()
  let status = try server.join(timeout: .seconds(5))
  print(status.map(String.init(describing:)) ?? "still running")  // killed by signal 15
}

/// `with Manager() as manager: results = manager.dict(); …`
func pythonManager() throws {
  let manager = try Manager()
  let results = try manager.dictionary([Int: Int].self)
  let p = Process { [handle = results.handle] in
    try ManagedDictionary<Int, Int>(handle).set(42, for: 1)
  }
  try p.start()
  try p.join()
  print(try results[1] ?? 0)
  manager.shutdown()
}
