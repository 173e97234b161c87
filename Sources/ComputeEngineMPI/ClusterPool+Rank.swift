import ComputeEngine

/// A serving rank's side: running the chunks the driver sends on the local pool.
extension ClusterPool {
  /// A rank's loop: runs each chunk the driver sends on the local pool and sends back its
  /// results, until the driver says stop. When the driver gives up the communicator after
  /// another rank died, this rank joins it in making the survivors' one and serves on (the
  /// results it had not sent are dropped: the driver hands those chunks out again). When the
  /// driver dies, this throws ``ClusterError/driverLost``.
  func serveChunks() throws {
    while true {
      do {
        guard try serveMessage() else { return }
      } catch ClusterError.revoked where MPIWorld.isFaultTolerant {
        try recover(nil)
      } catch ClusterError.rankFailed where MPIWorld.isFaultTolerant {
        // This rank talks to the driver alone: only the driver's death fails its calls.
        throw ClusterError.driverLost
      }
    }
  }

  /// Serves the driver's next message: false when it says stop.
  private func serveMessage() throws -> Bool {
    // Spins a moment first: the driver's next message often follows at once.
    let message = try world.waitForMessage(from: 0, spin: .milliseconds(1))
    let bytes = try world.receive(message)
    switch message.tag {
    case ClusterMessage.stop:
      return false
    case ClusterMessage.echo:
      try world.send(bytes, to: 0, tag: ClusterMessage.echo)
    case ClusterMessage.chunk:
      // Chunk messages already here run together: one trip through the local pool for all.
      var messages = [try ClusterMessage.unbundle(bytes).map(decodeChunk)]
      while messages.joined().reduce(0, { $0 + $1.count }) < ClusterJob<Output>.tasksPerLocalTrip,
        let next = try world.poll(from: 0),
        next.tag == ClusterMessage.chunk
      {
        messages.append(try ClusterMessage.unbundle(try world.receive(next)).map(decodeChunk))
      }
      let runnable = messages.joined().filter { $0.inputs != nil }
      var results: [Swift.Result<Output, PoolError>]
      do {
        results = try local.mapResults(runnable.flatMap { $0.inputs! })
      } catch let error as PoolError {
        results = Array(repeating: .failure(error), count: runnable.reduce(0) { $0 + $1.count })
      }
      var position = 0
      for chunks in messages {
        var replies: [[UInt8]] = []
        for chunk in chunks {
          let chunkResults: [Swift.Result<Output, PoolError>]
          if chunk.inputs != nil {
            chunkResults = Array(results[position..<position + chunk.count])
            position += chunk.count
          } else {
            chunkResults = Array(repeating: .failure(.codingFailed(chunk.decodingError)), count: chunk.count)
          }
          replies.append(resultsMessage(job: chunk.job, first: chunk.first, chunkResults))
        }
        try world.sendWatching(ClusterMessage.bundle(replies), to: 0, tag: ClusterMessage.results)
      }
    default:
      throw ClusterError.protocolViolation("tag \(message.tag) from the driver")
    }
    return true
  }

  /// A chunk as a rank receives it: its job, its tasks, and their inputs (nil when they
  /// could not be decoded, with why).
  struct ReceivedChunk {
    var job: Int
    var first: Int
    var count: Int
    var inputs: [Input]?
    var decodingError = ""
  }

  func decodeChunk(_ bytes: [UInt8]) throws -> ReceivedChunk {
    let (words, payload) = try ClusterMessage.split(bytes, words: 3)
    do {
      return ReceivedChunk(
        job: words[0], first: words[1], count: words[2], inputs: try codec.decodeInputs(payload, words[2]))
    } catch {
      return ReceivedChunk(job: words[0], first: words[1], count: words[2], inputs: nil, decodingError: "\(error)")
    }
  }
}
