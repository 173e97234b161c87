import Foundation
import Multiprocessing

/// The entry points the benchmarks start, shared with the `BenchmarkChild` program.
public enum BenchmarkEntryPoints {
  /// Does nothing: start-up cost alone.
  public static let empty = EntryPoint<Int>("empty") { _ in }

  /// Every entry point, for `bootstrapMultiprocessing(entryPoints:)`.
  public static let all: [any AnyEntryPoint] = [empty]

  /// Registers the entry points and makes spawned children run `BenchmarkChild`, built
  /// beside the benchmark executable.
  public static func prepare() {
    bootstrapMultiprocessing(entryPoints: all)
    let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    setExecutable(directory.appendingPathComponent("BenchmarkChild").path)
  }
}
