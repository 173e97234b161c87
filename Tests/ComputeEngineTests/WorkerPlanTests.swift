import Foundation
import Multiprocessing
import Scheduler
import Testing

@testable import ComputeEngine

/// A worker's plan travels as its fields in order (no keys, which cost every worker's start),
/// its optionals as present values or nils.
@Suite struct WorkerPlanTests {
  @Test(arguments: [false, true]) func aPlanComesBackWhole(withOptionals: Bool) throws {
    let board = try SharedMemory(size: 128)
    let plan = WorkerPlan(
      channels: Data([1, 2, 3]), slot: 4, cpus: withOptionals ? CPUSet([0, 3]) : nil, chunkSize: 1024,
      maxTasks: withOptionals ? 17 : nil, spinNanoseconds: 20_000, timed: withOptionals,
      board: withOptionals ? board.handle : nil, incarnation: 9)
    let decoded = try BinaryDecoder().decode(WorkerPlan.self, from: try BinaryEncoder().encode(plan))
    #expect(decoded.channels == plan.channels)
    #expect(decoded.slot == 4 && decoded.chunkSize == 1024 && decoded.spinNanoseconds == 20_000)
    #expect(decoded.incarnation == 9 && decoded.timed == withOptionals)
    #expect(decoded.cpus == plan.cpus && decoded.maxTasks == plan.maxTasks && decoded.board == plan.board)
    // Keyless: the JSON of the plan is an array, nils in place of what is absent.
    let json = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
    #expect(json.hasPrefix("[\"AQID\",4,") && json.hasSuffix(",9]"), "\(json)")
    #expect(json.contains("null") == !withOptionals)
  }
}
