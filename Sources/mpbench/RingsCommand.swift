import ArgumentParser
import Foundation
import Multiprocessing
import Scheduler
import ToolSupport

/// `mpbench rings`: SlotRing throughput and latency between two processes.
struct RingsCommand: ParsableCommand, RepeatedMeasurement, CFloorMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "rings",
    abstract:
      "Time SlotRing throughput (per item, batched, many producers), ping-pong, Queue and Connection across processes.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench rings [--repetitions <repetitions>] [--json] [--items <items>]
                    [--c-floor/--no-c-floor] [--c-floor-source <path>]
                    [--c-floor-executable <path>] [--min-batched-ratio <R>]
                    [--filter <text>]
                    [--compare-python] [--python <python>]
                    [--ipc-script <ipc-script>] [--max <NAME=VALUE> ...]
                    [--min <NAME=VALUE> ...]
      """
  )

  @OptionGroup var measurement: RepetitionOptions<RingsCommand>
  static let defaultRepetitions = 5
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Items per throughput measurement.")
  var items = 20_000_000

  @OptionGroup var floor: CFloorOptions<RingsCommand>
  static let cFloorSource = "Scripts/spsc_floor.c"
  static let cFloorHelp =
    "Time the batched job in a small C program too (Scripts/spsc_floor.c: the same ring), in turns with it."

  @Option(
    name: .customLong("min-batched-ratio"),
    help: ArgumentHelp(
      "Fail when the batched figure is under R times the C ring's (median of paired runs).", valueName: "R"))
  var minBatchedRatio: Double?

  @Option(help: ArgumentHelp("Time only the figures whose name contains this text.", valueName: "text"))
  var filter: String?

  @Flag(help: "Also time Python's multiprocessing.Queue and Pipe on the same jobs (Scripts/ipc_reference.py).")
  var comparePython = false

  @Option(help: "The Python interpreter for --compare-python.")
  var python = "python3"

  @Option(help: "The Python Queue and Pipe reference for --compare-python.")
  var ipcScript = "Scripts/ipc_reference.py"

  @OptionGroup var bounds: FigureBoundOptions

  func validate() throws {
    guard items > 0 else { throw ValidationError("--items must be at least 1, not \(items)") }
    if let minBatchedRatio {
      guard minBatchedRatio > 0 else {
        throw ValidationError("--min-batched-ratio must be positive, not \(minBatchedRatio)")
      }
      guard floor.cFloor else { throw ValidationError("--min-batched-ratio needs the C floor") }
    }
  }

  /// Whether `--filter` (if any) lets the figure called `name` run.
  func wanted(_ name: String) -> Bool { filter.map { name.localizedCaseInsensitiveContains($0) } ?? true }

  func run() throws {
    let floorProgram = wanted(Self.batchedFigure) ? try floor.program() : nil
    var figures = Figures()
    func record(_ name: String, _ unit: String, _ measure: () throws -> Double) rethrows {
      guard wanted(name) else { return }
      try figures.record(name, unit, repetitions: repetitions, measure)
    }
    let count = items
    try record("SPSC, one item per push and per pop", "M/s") {
      try throughput(mode: .singleProducerSingleConsumer, producers: 1, batch: 1, count: count)
    }
    try record("SPSC, one item per push, pops of up to 64", "M/s") {
      try throughput(mode: .singleProducerSingleConsumer, producers: 1, batch: 1, popBatch: 64, count: count)
    }
    var ratio: Double?
    if wanted(Self.batchedFigure) {
      // Ours and the C ring in turns, so that a noisy spell reaches both alike.
      var batched: [Double] = []
      var cRing: [Double] = []
      for _ in 0..<repetitions {
        batched.append(try throughput(mode: .singleProducerSingleConsumer, producers: 1, batch: 64, count: count))
        if let floorProgram { cRing.append(try cRingSample(floorProgram, count: count)) }
      }
      figures.record(Self.batchedFigure, "M/s", samples: batched)
      if floorProgram != nil {
        figures.record("C ring, same job (Scripts/spsc_floor.c)", "M/s", samples: cRing)
        // Paired: each of ours over the C ring's run right after it.
        let ratios = zip(batched, cRing).map { $0 / $1 }
        figures.record("SPSC, batches of 64 / C ring", "x", samples: ratios)
        ratio = Statistics(ratios).median
      }
    }
    try record("MPMC, 2 producers, 1 consumer", "M/s") {
      try throughput(mode: .multiProducerMultiConsumer, producers: 2, batch: 1, count: count / 4)
    }
    try record("ping-pong round trip (two SPSC rings)", "µs") { try pingPong(rounds: 100_000) }
    // Items one at a time through a Queue: its ring of slots (Int is BitwiseCopyable) and
    // its pipe of Codable messages; then Codable items through a ByteRing (shared memory).
    let codableItems = 200_000
    try record("Queue<Int> (ring), 1 producer, 1 consumer", "k/s") {
      try queueThroughput(.ring, count: codableItems * 10)
    }
    try record("Queue<Int> (pipe, Codable), same job", "k/s") { try queueThroughput(.pipe, count: codableItems) }
    try record("ByteRing, Codable Int, send/receive", "k/s") { try byteRingThroughput(count: codableItems) }
    try record("Connection round trip, Codable Int (pipe)", "µs") { try connectionRoundTrip(rounds: 10_000) }
    try record("Listener/Client round trip, TCP loopback", "µs") { try socketRoundTrip(rounds: 10_000) }
    try record("Manager dictionary set, round trip", "µs") { try managerRoundTrip(rounds: 10_000) }
    if comparePython, wanted("Python") {
      let python = try pythonReference(count: codableItems, roundTrips: 10_000)
      figures.record("Python multiprocessing.Queue, same job", "k/s", samples: [python.itemsPerSecond / 1e3])
      figures.record("Python multiprocessing.Pipe round trip", "µs", samples: [python.pipeRoundTripMicroseconds])
      figures.record(
        "Python Listener/Client round trip, same job", "µs", samples: [python.socketRoundTripMicroseconds])
      figures.record(
        "Python Manager dict set, same job", "µs", samples: [python.managerRoundTripMicroseconds])
    }

    if let filter, figures.all.isEmpty { throw LateUsageError("no figure's name contains '\(filter)'") }
    try figures.print(
      json: json, header: "median of \(repetitions) runs, \(items) 8-byte items between two processes", width: 46)
    if let minBatchedRatio {
      guard let ratio else { throw BenchmarkFailure("--min-batched-ratio: the batched figure was not measured") }
      guard ratio >= minBatchedRatio else {
        throw BenchmarkFailure(
          String(format: "batched SPSC / C ring is %.2fx, under --min-batched-ratio %g", ratio, minBatchedRatio))
      }
    }
    try bounds.check(figures)
  }

  /// The figure the C ring is set against.
  static let batchedFigure = "SPSC, batches of 64"

  /// One run of the C ring program over `count` items, in millions per second (timed inside it).
  private func cRingSample(_ program: CReferenceProgram, count: Int) throws -> Double {
    let run = try ExternalCommand.run([program.executable, "\(count)", "1"])
    guard run.status == 0, let sample = run.stdout.split(separator: "\n").first.flatMap({ Double($0) }) else {
      throw BenchmarkFailure("the C ring failed (status \(run.status)): \(run.stderr)")
    }
    return sample
  }

  /// Items per second (millions) from `producers` child processes to this one.
  private func throughput(
    mode: SlotRing<UInt64>.Mode, producers: Int, batch: Int, popBatch: Int? = nil, count: Int
  ) throws -> Double {
    let popBatch = popBatch ?? batch
    let ring = try SlotRing<UInt64>(capacity: 4096, mode: mode)
    let go = try Multiprocessing.Event()
    let ready = try Multiprocessing.Semaphore(value: 0)
    let perProducer = count / producers
    // Each end on a CPU of its own, where there are enough (the consumer on the first this
    // thread may use): two ends that share a CPU spin in each other's way, and the scheduler
    // sometimes starts a forked producer beside its parent (a fifth of the throughput, seen
    // here). The C ring binds its ends the same way.
    let topology = try Topology.current()
    let allowed = try topology.binding(.thread)
    let cpus = allowed.indices.count > producers ? allowed.indices : []
    defer { if !cpus.isEmpty { try? topology.bind(.thread, to: allowed) } }
    if !cpus.isEmpty { try topology.bind(.thread, to: CPUSet([cpus[0]])) }
    let children = (0..<producers).map { index in
      Process(startMethod: .fork) {
        if !cpus.isEmpty { try Topology.bindCallingThread(to: CPUSet([cpus[1 + index]])) }
        try ready.release()
        // Spinning, not asleep: a sleeping producer's wake-up (up to milliseconds for a
        // virtual CPU that went idle) would be timed as the ring's (the C ring's spins too).
        while !Spin.until(limit: .seconds(1), { go.isSet }) {}
        let values = [UInt64](repeating: 1, count: batch)
        var sent = 0
        while sent < perProducer {
          if batch == 1 {
            try ring.push(1)
            sent += 1
          } else {
            let size = min(batch, perProducer - sent)
            try values.withUnsafeBufferPointer {
              try ring.push(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<size]))
            }
            sent += size
          }
        }
      }
    }
    for child in children { try child.start() }
    // The clock starts once every producer is bound and spinning, as the C ring's does. A
    // producer that failed to bind itself never says so: it is an error, not a wait.
    for _ in children where !ready.acquire(timeout: .seconds(10)) {
      for child in children {
        try? child.kill()
        _ = try? child.join()
      }
      throw BenchmarkFailure("a producer did not start within 10 s")
    }
    var buffer = [UInt64](repeating: 0, count: max(popBatch, 1))
    var received = 0
    var sum: UInt64 = 0
    let total = perProducer * producers
    let started = ContinuousClock.now
    go.set()
    while received < total {
      if popBatch == 1 {
        guard let value = ring.pop() else { break }
        sum &+= value
        received += 1
      } else {
        let taken = try buffer.withUnsafeMutableBufferPointer { try ring.pop(into: $0) }
        for index in 0..<taken { sum &+= buffer[index] }
        received += taken
      }
    }
    let elapsed = ContinuousClock.now - started
    for child in children { try child.join() }
    guard sum == UInt64(total) else { throw BenchmarkFailure("lost items: \(sum) of \(total)") }
    return Double(total) / (elapsed.microseconds / 1e6) / 1e6
  }

  /// Thousands of `Int` items per second through a ``Queue`` from a child to this process.
  private func queueThroughput(_ transport: QueueTransport, count: Int) throws -> Double {
    let queue = transport == .ring ? try Queue<Int>() : try Self.codableQueue(of: Int.self)
    guard queue.transport == transport else { throw BenchmarkFailure("the queue is not a \(transport) queue") }
    let producer = Process(startMethod: .fork) { for value in 0..<count { try queue.put(value) } }
    let started = ContinuousClock.now
    try producer.start()
    var sum = 0
    for _ in 0..<count { sum &+= try queue.get() }
    let elapsed = ContinuousClock.now - started
    try producer.join()
    guard sum == count * (count - 1) / 2 else { throw BenchmarkFailure("the queue lost items") }
    return Double(count) / (elapsed.microseconds / 1e6) / 1e3
  }

  /// A queue made where its elements are only known to be `Codable`: one through a pipe.
  private static func codableQueue<T: Codable & Sendable>(of _: T.Type) throws -> Queue<T> { try Queue() }

  /// Thousands of `Int` items per second sent one by one as `Codable` values through a
  /// ``ByteRing`` from a child to this process.
  private func byteRingThroughput(count: Int) throws -> Double {
    let ring = try ByteRing(capacity: 1 << 20)
    let producer = Process(startMethod: .fork) {
      for value in 0..<count { try ring.send(value) }
      ring.close()
    }
    let started = ContinuousClock.now
    try producer.start()
    var sum = 0
    while let value = try ring.receive(Int.self) { sum &+= value }
    let elapsed = ContinuousClock.now - started
    try producer.join()
    guard sum == count * (count - 1) / 2 else { throw BenchmarkFailure("the byte ring lost items") }
    return Double(count) / (elapsed.microseconds / 1e6) / 1e3
  }

  /// The median round trip of a `Codable` `Int` to a forked child and back through a duplex
  /// ``Connection``, in microseconds.
  private func connectionRoundTrip(rounds: Int) throws -> Double {
    let (here, there) = try Connection.pipe()
    let child = Process(startMethod: .fork) { try Self.echo(on: there) }
    try child.start()
    return try roundTrips(rounds, over: here, to: child)
  }

  /// The same over TCP on the loopback, between a ``Listener`` with a key here and a forked
  /// child that connects to it (Python's `Listener` and `Client`).
  private func socketRoundTrip(rounds: Int) throws -> Double {
    let key = Array("mpbench".utf8)
    let listener = try Listener(.loopback, authKey: key)
    let address = listener.address
    let child = Process(startMethod: .fork) { try Self.echo(on: try Connection.connect(to: address, authKey: key)) }
    try child.start()
    return try roundTrips(rounds, over: try listener.accept(), to: child)
  }

  /// The median time of `rounds` sets of a key of a ``Manager``'s dictionary (a round trip
  /// to the manager's server process), as Python's `d[key] = value` on a `manager.dict()`.
  private func managerRoundTrip(rounds: Int) throws -> Double {
    let manager = try Manager()
    defer { manager.shutdown() }
    let dictionary = try manager.dictionary([Int: Int].self)
    var samples: [Double] = []
    samples.reserveCapacity(rounds)
    for round in 0..<rounds {
      let started = ContinuousClock.now
      try dictionary.set(round, for: round % 100)
      samples.append((ContinuousClock.now - started).microseconds)
    }
    guard try dictionary[99] == rounds - 1 else { throw BenchmarkFailure("the manager lost a value") }
    return Statistics(samples).median
  }

  /// Sends back each `Int` plus one, until a negative one.
  private static func echo(on connection: Connection) throws {
    while case let value = try connection.recv(Int.self), value >= 0 { try connection.send(value + 1) }
  }

  /// The median of `rounds` round trips to `child`, which echoes on the other end of `here`;
  /// then the child is told to end and joined.
  private func roundTrips(_ rounds: Int, over here: Connection, to child: Multiprocessing.Process) throws -> Double {
    var samples: [Double] = []
    samples.reserveCapacity(rounds)
    for round in 0..<rounds {
      let started = ContinuousClock.now
      try here.send(round)
      guard try here.recv(Int.self) == round + 1 else { throw BenchmarkFailure("the connection lost its value") }
      samples.append((ContinuousClock.now - started).microseconds)
    }
    try here.send(-1)
    try child.join()
    return Statistics(samples).median
  }

  /// What Python's `multiprocessing.Queue` and `Pipe` do on the same jobs.
  private struct PythonIPC: Decodable {
    let itemsPerSecond: Double
    let pipeRoundTripMicroseconds: Double
    let socketRoundTripMicroseconds: Double
    let managerRoundTripMicroseconds: Double
  }

  private func pythonReference(count: Int, roundTrips: Int) throws -> PythonIPC {
    try ExternalCommand.runPythonReference(
      PythonIPC.self, python: python, script: ipcScript, option: "--ipc-script",
      arguments: ["--items", "\(count)", "--repetitions", "\(repetitions)", "--round-trips", "\(roundTrips)"])
  }

  /// The median round trip of one item to a child and back, in microseconds.
  private func pingPong(rounds: Int) throws -> Double {
    let there = try SlotRing<UInt64>(capacity: 16, mode: .singleProducerSingleConsumer)
    let back = try SlotRing<UInt64>(capacity: 16, mode: .singleProducerSingleConsumer)
    let child = Process(startMethod: .fork) {
      while let value = there.pop() { try back.push(value + 1) }
    }
    try child.start()
    var samples: [Double] = []
    samples.reserveCapacity(rounds)
    for round in 0..<rounds {
      let started = ContinuousClock.now
      try there.push(UInt64(round))
      guard back.pop() == UInt64(round + 1) else { throw BenchmarkFailure("ping-pong lost its value") }
      samples.append((ContinuousClock.now - started).microseconds)
    }
    there.close()
    try child.join()
    return Statistics(samples).median
  }
}
