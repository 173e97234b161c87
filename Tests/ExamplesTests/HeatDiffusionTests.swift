import ComputeEngine
import Testing

@testable import HeatDiffusion

/// The heat-diffusion example, small: threads and a team of processes make the serial grid,
/// bit for bit, whatever the team's size.
@Suite(.timeLimit(.minutes(3))) struct HeatDiffusionTests {
  @Test(arguments: [1, 2, 3])
  func everyVersionMakesTheSerialGrid(members: Int) throws {
    let serial = HeatDiffusion.serial(size: 67, steps: 40)
    #expect(serial[67 + 1] > 0 && serial[67 + 1] < 100, "heat reached the interior")
    #expect(HeatDiffusion.threads(size: 67, steps: 40, workers: members) == serial)
    let team = try ProcessTeam(size: members, placement: .cores(min(members, 2)))
    #expect(try HeatDiffusion.team(size: 67, steps: 40, team: team) == serial)
    #expect(try HeatDiffusion.team(size: 67, steps: 39, team: team) != serial, "one step fewer is another grid")
  }
}
