import Multiprocessing

/// README, "Processes": fork.
func forkExample() throws {
  var total = 0
  for k in 0..<1000 { total += k }
  let p = Process(name: "summer") { print("child sees", total) }  // captured, no copy to make
  try p.start()
  try p.join()
  print(try p.exitCode!)  // 0
}

/// README, "Processes": forkserver.
func forkserverExample() throws {
  try setStartMethod(.forkserver)  // once, before any start, as in Python; or getContext(.forkserver)

  func runJob() async throws {
    let p = getContext(.forkserver).process(entryPoint: work, arguments: Job(units: 0..<8))
    try p.start()
    try await p.join(timeout: .seconds(10))  // async: no cooperative-pool thread blocks
  }
  _ = runJob
}

/// README, "Connections".
func connectionExample() throws {
  let (parentEnd, childEnd) = try Connection.pipe()
  let echo = Process { try childEnd.send(try childEnd.recv(Int.self) * 2) }
  try echo.start()
  childEnd.close()
  try parentEnd.send(21)
  print(try parentEnd.recv(Int.self))  // 42
}

/// README, "Listener and Client".
func listenerExample() throws {
  let listener = try Listener(.loopback, authKey: Array("secret".utf8))
  let client = Process { [address = listener.address] in
    let connection = try Connection.connect(to: address, authKey: Array("secret".utf8))
    try connection.sendBytes(Array("hello".utf8))
  }
  try client.start()
  let connection = try listener.accept()
  print(String(decoding: try connection.recvBytes(), as: UTF8.self))  // hello
}

/// README, "Queues".
func queueExample() async throws {
  let queue = try Queue<String>()
  let producer = Process {
    for word in ["alpha", "beta"] { try queue.put(word) }
    queue.close()
  }
  try producer.start()
  for try await word in queue.values { print(word) }  // alpha, beta
}

/// README, "Processes": a spawnable subclass.
func subclassExample() throws {
  final class Squarer: Process, Codable, @unchecked Sendable {
    // @unchecked: `numbers` is set before start and only read by run().
    var numbers: [Int]

    init(numbers: [Int], startMethod: StartMethod) {
      self.numbers = numbers
      super.init(startMethod: startMethod)
    }

    required init(from decoder: any Decoder) throws {
      numbers = try decoder.singleValueContainer().decode([Int].self)
      super.init()
    }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.singleValueContainer()
      try container.encode(numbers)
    }

    override func run() throws { print(numbers.map { $0 * $0 }) }
  }

  // main: bootstrapMultiprocessing(entryPoints: [work, ProcessClass(Squarer.self)])
  let job = Squarer(numbers: [1, 2, 3], startMethod: .spawn)
  try job.start()
  try job.join()
}
