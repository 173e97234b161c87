/// The project's reference CPU-bound kernel: a Monte Carlo estimate of pi split into `U`
/// equal-cost work units of `M` samples each (see `KERNEL.md` in the design notes).
///
/// All arithmetic wraps modulo 2^64, and the result is an exact integer that does not depend
/// on how units are split over workers or in which order they finish, so every engine is
/// checked against ``Size/checksum``.
public enum MonteCarloPi {
  /// A named problem size with its known checksum.
  public struct Size: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The name used on command lines (`test`, `py`, `py-long`, `native`, `native-long`).
    public let name: String
    /// The number of work units `U`.
    public let units: Int
    /// The samples per unit `M`.
    public let samples: Int
    /// The exact value of `kernel(U, M)`.
    public let checksum: UInt64

    /// Creates a size; `checksum` must be the true `kernel(units, samples)`.
    public init(name: String, units: Int, samples: Int, checksum: UInt64) {
      self.name = name
      self.units = units
      self.samples = samples
      self.checksum = checksum
    }

    /// 64 × 1,000 samples: for tests.
    public static let test = Size(name: "test", units: 64, samples: 1_000, checksum: 50_200)
    /// 64 × 65,536 samples: the size Python's figures use.
    public static let py = Size(name: "py", units: 64, samples: 65_536, checksum: 3_295_020)
    /// 64 × 262,144 samples.
    public static let pyLong = Size(name: "py-long", units: 64, samples: 262_144, checksum: 13_178_741)
    /// 64 × 2^23 samples: the size of the engine's scaling figures.
    public static let native = Size(name: "native", units: 64, samples: 1 << 23, checksum: 421_643_862)
    /// 64 × 2^25 samples.
    public static let nativeLong = Size(
      name: "native-long", units: 64, samples: 1 << 25, checksum: 1_686_585_804)

    /// Every named size, smallest first.
    public static let all: [Size] = [.test, .py, .pyLong, .native, .nativeLong]

    /// The total number of samples, `U × M`.
    public var totalSamples: Int { units * samples }

    /// The pi estimate a checksum gives at this size: `4 × checksum / (U × M)`.
    public func piEstimate(_ checksum: UInt64) -> Double {
      4 * Double(checksum) / Double(totalSamples)
    }

    /// The name with `U` and `M`.
    public var description: String { "\(name) (U=\(units), M=\(samples))" }
  }

  /// The SplitMix64 output function, which seeds each unit from its index.
  @inlinable
  public static func splitmix64(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// One step of the Knuth MMIX linear congruential generator.
  @inlinable
  public static func lcg(_ state: UInt64) -> UInt64 {
    state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
  }

  /// Work unit `k`: how many of `samples` pseudo-random points fall inside the quarter circle.
  ///
  /// The hit test is written branchless, `hits += (d >> 62) ^ 1` with `d = x² + y² < 2^63`:
  /// the compare-and-branch form mispredicts about a fifth of the time and runs at half speed.
  @inlinable
  public static func unit(_ k: UInt64, samples: Int) -> UInt64 {
    var state = splitmix64(k)
    var hits: UInt64 = 0
    for _ in 0..<samples {
      state = lcg(state)
      let x = state >> 33
      state = lcg(state)
      let y = state >> 33
      hits &+= ((x &* x &+ y &* y) >> 62) ^ 1
    }
    return hits
  }

  /// The sum of ``unit(_:samples:)`` over the units in `range`: one worker's share.
  @inlinable
  public static func kernel(units range: Range<Int>, samples: Int) -> UInt64 {
    var sum: UInt64 = 0
    for k in range { sum &+= unit(UInt64(k), samples: samples) }
    return sum
  }

  /// The whole kernel at `size`, serially: `kernel(U, M)`.
  public static func kernel(_ size: Size) -> UInt64 {
    kernel(units: 0..<size.units, samples: size.samples)
  }
}
