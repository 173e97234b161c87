import Foundation
import Multiprocessing

/// What the members of one ``ProcessTeam`` run share, made in the parent before the fork: the
/// barrier, the exchange area of the collective steps, each member's outcome and message, and
/// the results.
final class TeamShared: @unchecked Sendable {
  // @unchecked: every field is immutable; the shared bytes are written by one member each
  // (its own slot, outcome and result) or between barriers (the exchange area).

  /// How a member ended, in its outcome word.
  enum Outcome: UInt32 {
    case running = 0
    case finished
    /// The member's closure threw; its message is in its message slot.
    case threw
    /// The member left because the team was stopped (its barrier broken).
    case stopped
  }

  static let messageCapacity = 1024

  let size: Int
  let exchangeCapacity: Int
  let barrier: Barrier
  /// Two halves of `size` slots of `exchangeCapacity` bytes.
  private let exchange: SharedMemory
  /// Per member: an outcome word, a message length, and the message.
  private let reports: SharedMemory
  /// Per member: its result.
  let results: SharedMemory
  let resultStride: Int

  init(size: Int, exchangeCapacity: Int, resultStride: Int) throws {
    self.size = size
    self.exchangeCapacity = exchangeCapacity
    self.resultStride = resultStride
    barrier = try Barrier(parties: size)
    exchange = try SharedMemory(size: max(1, 2 * size * exchangeCapacity))
    reports = try SharedMemory(size: size * (8 + Self.messageCapacity))
    results = try SharedMemory(size: max(1, size * resultStride))
  }

  func exchangeSlot(half: Int, rank: Int) -> UnsafeMutableRawPointer {
    exchange.baseAddress + (half * size + rank) * exchangeCapacity
  }

  private func report(_ rank: Int) -> UnsafeMutableRawPointer {
    reports.baseAddress + rank * (8 + Self.messageCapacity)
  }

  func outcome(of rank: Int) -> Outcome {
    Outcome(rawValue: report(rank).load(as: UInt32.self)) ?? .running
  }

  /// Records how member `rank` ended, with a message (cut to the capacity) when it threw.
  func record(_ outcome: Outcome, message: String = "", rank: Int) {
    let bytes = Array(message.utf8.prefix(Self.messageCapacity))
    let slot = report(rank)
    (slot + 4).storeBytes(of: UInt32(bytes.count), as: UInt32.self)
    bytes.withUnsafeBytes { message in
      if let start = message.baseAddress { (slot + 8).copyMemory(from: start, byteCount: message.count) }
    }
    slot.storeBytes(of: outcome.rawValue, as: UInt32.self)
  }

  func message(of rank: Int) -> String {
    let slot = report(rank)
    let count = Int(min(UInt32(Self.messageCapacity), (slot + 4).load(as: UInt32.self)))
    return String(decoding: UnsafeRawBufferPointer(start: slot + 8, count: count), as: UTF8.self)
  }
}
