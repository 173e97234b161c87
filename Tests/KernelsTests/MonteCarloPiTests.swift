import Kernels
import Testing

@Suite struct MonteCarloPiTests {
  @Test func splitmix64MatchesTheTestVectors() {
    #expect(MonteCarloPi.splitmix64(0) == 0xE220_A839_7B1D_CDAF)
    #expect(MonteCarloPi.splitmix64(1) == 0x910A_2DEC_8902_5CC1)
    #expect(MonteCarloPi.splitmix64(2) == 0x9758_35DE_1C97_56CE)
  }

  @Test func firstLCGStatesOfUnitZeroMatch() {
    var state = MonteCarloPi.splitmix64(0)
    let expected: [(UInt64, UInt64)] = [
      (0x49E0_06D9_0F89_7A12, 619_709_292), (0x33F4_D6C7_4A9A_E479, 435_841_891),
      (0x7A06_FFC9_D266_B194, 1_023_639_524), (0xB835_CADB_30B1_2453, 1_545_266_541),
    ]
    for (wantState, wantCoordinate) in expected {
      state = MonteCarloPi.lcg(state)
      #expect(state == wantState)
      #expect(state >> 33 == wantCoordinate)
    }
  }

  @Test(arguments: [(0, 10, 7), (0, 1000, 800), (1, 1000, 796), (2, 1000, 790), (3, 1000, 795)])
  func unitMatchesTheTestVectors(k: UInt64, samples: Int, hits: UInt64) {
    #expect(MonteCarloPi.unit(k, samples: samples) == hits)
  }

  /// Every listed size, native-long included (2^31 samples: seconds in a release build,
  /// under a minute in a debug one); Swift Testing runs the sizes in parallel.
  @Test(arguments: MonteCarloPi.Size.all)
  func kernelMatchesTheChecksum(size: MonteCarloPi.Size) {
    #expect(MonteCarloPi.kernel(size) == size.checksum)
  }

  @Test func splitsOverWorkersSumToTheChecksum() {
    let size = MonteCarloPi.Size.py
    let halves = [0..<32, 32..<64].map { MonteCarloPi.kernel(units: $0, samples: size.samples) }
    #expect(halves[0] &+ halves[1] == size.checksum)
    #expect(halves[0] != 0 && halves[1] != 0)
  }

  @Test func piEstimatesMatchTheTable() {
    #expect(abs(MonteCarloPi.Size.py.piEstimate(3_295_020) - 3.142376) < 5e-7)
    #expect(abs(MonteCarloPi.Size.native.piEstimate(421_643_862) - 3.141492) < 5e-7)
  }
}
