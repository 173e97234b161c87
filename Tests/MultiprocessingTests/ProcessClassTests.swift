import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

/// A `Codable` `Process` subclass starts with every start method, its stored properties and
/// its name arriving in the child.
@Suite(.timeLimit(.minutes(2))) struct ProcessClassTests {
  @Test(arguments: StartMethod.allCases)
  func aCodableSubclassStartsWithEveryStartMethod(method: StartMethod) throws {
    _ = Fixture.ready
    let result = try SharedValue(0)
    let summer = Summer(numbers: [1, 2, 3, 4], result: result.handle, startMethod: method)
    try summer.start()
    try summer.join()
    #expect(try summer.exitCode == 0)
    #expect(result.value == 1010, "the numbers and the name arrived: \(result.value)")
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func anUnregisteredSubclassIsRefusedWithItsName(method: StartMethod) throws {
    _ = Fixture.ready
    let process = Unregistered(startMethod: method)
    #expect(throws: ProcessError.entryPointNotRegistered("process-class:TestEntryPoints.Unregistered")) {
      try process.start()
    }
  }
}
