import AsyncAlgorithms

/// The outputs of a pool's `imap`, in input order, or of its `imapUnordered`, as
/// `(index, output)` pairs in the order they come, produced as they are consumed.
///
/// Iterating starts a driver that pulls inputs a window at a time, keeps at most two windows
/// in the pool, and hands each window's outputs over only when the consumer asks for them (an
/// `AsyncThrowingChannel`, whose `send` waits for the consumer): memory stays bounded however
/// long the input. The first failure is thrown at its place, after the outputs before it.
/// When the consumer stops (its iterator is dropped, or its task is cancelled), the driver
/// pulls no more inputs; the windows already in the pool finish there and their outputs are
/// dropped.
public struct LazyPoolMap<Output: Sendable>: AsyncSequence, Sendable {
  /// One output.
  public typealias Element = Output

  /// Starts the driver: the channel it sends windows of outputs on, and its task.
  let start: @Sendable () -> (AsyncThrowingChannel<[Output], any Error>, Task<Void, Never>)

  /// Starts pulling inputs.
  public func makeAsyncIterator() -> Iterator {
    let (channel, task) = start()
    return Iterator(windows: channel.makeAsyncIterator(), driver: Driver(task: task))
  }

  /// Yields the outputs one by one.
  public struct Iterator: AsyncIteratorProtocol {
    var windows: AsyncThrowingChannel<[Output], any Error>.Iterator
    let driver: Driver
    var window: [Output] = []
    var position = 0

    /// The next output, nil after the last; throws the first failure at its place.
    public mutating func next() async throws -> Output? {
      while position == window.count {
        guard let next = try await windows.next() else { return nil }
        (window, position) = (next, 0)
      }
      defer { position += 1 }
      return window[position]
    }
  }

  /// Cancels the driver when the last iterator holding it goes.
  final class Driver: Sendable {
    let task: Task<Void, Never>
    init(task: Task<Void, Never>) { self.task = task }
    deinit { task.cancel() }
  }
}

extension ProcessPool {
  /// Applies the kernel to a sequence of any length, lazily: inputs are pulled a window at a
  /// time as the consumer takes outputs, which come in input order (Python's `imap`).
  ///
  /// ```swift
  /// var total = 0
  /// for try await square in pool.imap(stride(from: 0, to: 10_000_000, by: 1)) { total &+= square }
  /// ```
  ///
  /// - Parameters:
  ///   - inputs: the inputs; pulled from a task of the pool's, so `Sendable`.
  ///   - chunkSize: as for `map(_:chunkSize:)`.
  ///   - window: inputs sent to the pool at once (at most two windows are out): 256 per
  ///     worker by default. Memory holds at most two windows of inputs and outputs.
  public func imap<Inputs: Sequence & Sendable>(
    _ inputs: Inputs, chunkSize: Int? = nil, window: Int? = nil
  ) -> LazyPoolMap<Output> where Inputs.Element == Input {
    let size = max(1, window ?? workerCount * 256)
    return lazyMap(chunkSize: chunkSize) { send in
      var iterator = inputs.makeIterator()
      while !Task.isCancelled {
        var next: [Input] = []
        while next.count < size, let input = iterator.next() { next.append(input) }
        guard !next.isEmpty, try await send(next) else { return }
      }
    }
  }

  /// Applies the kernel to inputs that arrive over time, lazily, outputs in input order.
  ///
  /// - Parameters:
  ///   - inputs: the inputs, as they arrive; iterated from a task of the pool's.
  ///   - chunkSize: as for `map(_:chunkSize:)`.
  ///   - window: inputs gathered before they are sent to the pool: one per worker by default,
  ///     so that an input that arrives alone is not held back waiting for others.
  public func imap<Inputs: AsyncSequence & Sendable>(
    _ inputs: Inputs, chunkSize: Int? = nil, window: Int? = nil
  ) -> LazyPoolMap<Output> where Inputs.Element == Input {
    let size = max(1, window ?? workerCount)
    return lazyMap(chunkSize: chunkSize) { send in
      var next: [Input] = []
      var iterator = inputs.makeAsyncIterator()
      while true {
        let input: Input?
        do {
          input = try await iterator.next()
        } catch {
          // The inputs before the failure still run, and their outputs come first.
          if !next.isEmpty { guard try await send(next) else { return } }
          throw InputFailure(error: error)
        }
        guard let input else { break }
        next.append(input)
        if next.count == size {
          guard try await send(next) else { return }
          next = []
        }
      }
      if !next.isEmpty { _ = try await send(next) }
    }
  }

  /// The error an `AsyncSequence` of inputs threw: thrown after the outputs of every input
  /// before it.
  private struct InputFailure: Error {
    let error: any Error
  }

  /// Applies the kernel to a sequence of any length, lazily, and yields `(index, output)`
  /// pairs as outputs arrive, in no particular order (Python's `imap_unordered`): inputs are
  /// pulled a window at a time, at most two windows in the pool, and a slow input holds up
  /// nothing but its own output.
  ///
  /// ```swift
  /// for try await (index, square) in pool.imapUnordered(stride(from: 0, to: 1_000_000, by: 1)) { … }
  /// ```
  ///
  /// The first failure to arrive ends the sequence with its error. A consumer that stops
  /// gives up the windows out in the pool: inputs no worker has taken never run.
  ///
  /// - Parameters:
  ///   - inputs: the inputs; pulled from a task of the pool's, so `Sendable`.
  ///   - chunkSize: as for `map(_:chunkSize:)`.
  ///   - window: inputs sent to the pool at once: 256 per worker by default.
  public func imapUnordered<Inputs: Sequence & Sendable>(
    _ inputs: Inputs, chunkSize: Int? = nil, window: Int? = nil
  ) -> LazyPoolMap<(Int, Output)> where Inputs.Element == Input {
    let size = max(1, window ?? workerCount * 256)
    return unorderedMap(chunkSize: chunkSize) {
      var iterator = inputs.makeIterator()
      return {
        var next: [Input] = []
        while next.count < size, let input = iterator.next() { next.append(input) }
        return next
      }
    }
  }

  /// Applies the kernel to inputs that arrive over time, lazily, and yields `(index, output)`
  /// pairs as outputs arrive, in no particular order. An error the inputs throw ends the
  /// sequence after the outputs of every input that came before it.
  ///
  /// - Parameters:
  ///   - inputs: the inputs, as they arrive; iterated from a task of the pool's.
  ///   - chunkSize: as for `map(_:chunkSize:)`.
  ///   - window: inputs gathered before they are sent to the pool: one per worker by default,
  ///     so that an input that arrives alone is not held back waiting for others.
  public func imapUnordered<Inputs: AsyncSequence & Sendable>(
    _ inputs: Inputs, chunkSize: Int? = nil, window: Int? = nil
  ) -> LazyPoolMap<(Int, Output)> where Inputs.Element == Input {
    let size = max(1, window ?? workerCount)
    return unorderedMap(chunkSize: chunkSize) {
      var iterator = inputs.makeAsyncIterator()
      var failure: (any Error)?
      return {
        // The inputs before a failure still run: the failure is thrown at the next pull.
        if let failure { throw failure }
        var next: [Input] = []
        do {
          while next.count < size, let input = try await iterator.next() { next.append(input) }
        } catch {
          guard !next.isEmpty else { throw error }
          failure = error
        }
        return next
      }
    }
  }

  /// The driver behind both `imapUnordered`s: `makePull` makes, in the driver's task, the
  /// function that returns the next window of inputs (empty once they are done), at most two
  /// windows in the pool. An error of the inputs ends the sequence once every window pulled
  /// before it has delivered its outputs.
  private func unorderedMap(
    chunkSize: Int?, makePull: @escaping @Sendable () -> () async throws -> [Input]
  ) -> LazyPoolMap<(Int, Output)> {
    LazyPoolMap {
      let channel = AsyncThrowingChannel<[(Int, Output)], any Error>()
      let task = Task {
        do {
          try await withThrowingTaskGroup(of: Void.self) { group in
            let pull = makePull()
            var pulled = 0
            var inputFailure: (any Error)?
            /// Sends the next window to the pool, its outputs to the consumer as they come;
            /// false when the inputs are done or failed.
            func startNext() async -> Bool {
              guard inputFailure == nil else { return false }
              let next: [Input]
              do { next = try await pull() } catch {
                inputFailure = error
                return false
              }
              guard !next.isEmpty else { return false }
              let first = pulled
              pulled += next.count
              group.addTask {
                for try await (index, output) in self.mapUnordered(next, chunkSize: chunkSize) {
                  await channel.send([(first + index, output)])
                  try Task.checkCancellation()
                }
              }
              return true
            }
            // At most two windows in the pool: one more each time one finishes.
            if await startNext() { _ = await startNext() }
            while try await group.next() != nil {
              guard !Task.isCancelled, await startNext() else { continue }
            }
            if let inputFailure { throw inputFailure }
          }
          channel.finish()
        } catch {
          channel.fail(error)
        }
      }
      return (channel, task)
    }
  }

  /// The driver behind both `imap`s: `produce` pulls inputs and calls `send` with each
  /// window, which returns false once the consumer is gone.
  private func lazyMap(
    chunkSize: Int?, produce: @escaping @Sendable (_ send: ([Input]) async throws -> Bool) async throws -> Void
  ) -> LazyPoolMap<Output> {
    LazyPoolMap {
      let channel = AsyncThrowingChannel<[Output], any Error>()
      let task = Task {
        // At most two windows in the pool: the next one runs while the consumer takes this one.
        var out: [Task<[Result<Output, PoolError>], any Error>] = []
        /// Hands the oldest window's outputs to the consumer; false once it is gone.
        func deliverOldest() async throws -> Bool {
          // A consumer gone while this window runs gives the window's job up.
          let window = out.removeFirst()
          let results = try await withTaskCancellationHandler {
            try await window.value
          } onCancel: {
            window.cancel()
          }
          guard !Task.isCancelled else { return false }
          var outputs: [Output] = []
          outputs.reserveCapacity(results.count)
          for result in results {
            switch result {
            case .success(let output): outputs.append(output)
            case .failure(let error):
              if !outputs.isEmpty { await channel.send(outputs) }
              throw error
            }
          }
          await channel.send(outputs)
          return !Task.isCancelled
        }
        do {
          try await produce { window in
            guard !Task.isCancelled else { return false }
            out.append(Task { try await self.mapResults(window, chunkSize: chunkSize) })
            return out.count < 2 ? !Task.isCancelled : try await deliverOldest()
          }
          while !out.isEmpty, try await deliverOldest() {}
          channel.finish()
        } catch let failure as InputFailure {
          // The windows still out hold inputs that came before the failure: theirs first (or
          // a failure of theirs, which comes earlier).
          do {
            while !out.isEmpty, try await deliverOldest() {}
            channel.fail(failure.error)
          } catch {
            channel.fail(error)
          }
        } catch {
          channel.fail(error)
        }
        // Windows still out when the consumer left are given up too.
        for window in out { window.cancel() }
      }
      return (channel, task)
    }
  }
}
