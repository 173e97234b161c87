import ComputeEngine
import Testing

@testable import Render

/// The render example, small: threads and both pools make the serial image.
@Suite(.timeLimit(.minutes(3))) struct RenderTests {
  @Test func everyVersionMakesTheSerialImage() throws {
    let (width, height) = (64, 48)
    let serial = Render.serial(width: width, height: height)
    #expect(serial.count == width * height)
    #expect(Set(serial).count > 10, "rows of unequal cost: many iteration counts")
    #expect(serial.contains(UInt8(Render.limit)), "the set itself is in the picture")
    #expect(Render.threads(width: width, height: height) == serial)
    let pool = try Render.pool(width: width, height: height)
    defer { pool.terminate() }
    #expect(try Render.processes(height: height, pool: pool) == serial)
    let dataPool = try Render.dataPool(width: width, height: height)
    defer { dataPool.terminate() }
    #expect(try Render.processes(height: height, pool: dataPool) == serial)
    #expect(try Render.team(width: width, height: height, team: ProcessTeam(size: 3, placement: .cores(2))) == serial)
  }
}
