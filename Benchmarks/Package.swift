// swift-tools-version: 6.1

import PackageDescription

import struct Foundation.URL

// The micro-benchmarks (ordo-one/package-benchmark), in a package of their own so that the
// library's build and tests do not compile the benchmark framework. Run them with
// `cd Benchmarks && swift package --disable-sandbox benchmark`; check them against the
// stored thresholds with `swift package --disable-sandbox benchmark thresholds check`.

// SwiftPM names a path dependency after its folder, which is whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let library = root.lastPathComponent.lowercased()

/// A package-benchmark target in Benchmarks/NAME that uses the given library products (and
/// the given programs of this package, built beside it).
func benchmark(_ name: String, using products: [String], programs: [Target.Dependency] = []) -> Target {
  .executableTarget(
    name: name,
    dependencies: ["BenchmarkSupport", "BenchmarkChild", .product(name: "Benchmark", package: "benchmark")]
      + products.map { .product(name: $0, package: library) } + programs,
    path: "Benchmarks/\(name)",
    plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
  )
}

let package = Package(
  name: "swift-multiprocessing-benchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(path: root.path),
    .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    .target(
      name: "BenchmarkSupport",
      dependencies: [
        .product(name: "Multiprocessing", package: library), .product(name: "Scheduler", package: library),
        .product(name: "Benchmark", package: "benchmark"),
      ],
      path: "Benchmarks/Helpers/BenchmarkSupport"
    ),
    // The program spawned children and the fork server run: the benchmark runner's own
    // `main` parses its arguments before any benchmark code could bootstrap. It lives outside
    // Benchmarks/Benchmarks/ (the plugin takes every executable there for a benchmark and
    // fails to query this one) and is built as a dependency of each benchmark.
    .executableTarget(
      name: "BenchmarkChild",
      dependencies: ["BenchmarkSupport", .product(name: "Multiprocessing", package: library)],
      path: "Benchmarks/Helpers/BenchmarkChild"
    ),
    // The C floor that fork's start is set against: Scripts/fork_floor.c (main.c links to it),
    // the program `mpbench process-start` builds with cc.
    .executableTarget(name: "ForkFloor", path: "Benchmarks/Helpers/ForkFloor"),
    // A fresh process that times its first pool (`Pool`'s first-pool benchmark).
    .executableTarget(
      name: "FirstPool",
      dependencies: ["BenchmarkSupport", .product(name: "ComputeEngine", package: library)],
      path: "Benchmarks/Helpers/FirstPool"
    ),
    benchmark("ProcessStart", using: ["Multiprocessing"], programs: ["ForkFloor"]),
    benchmark("Sync", using: ["Multiprocessing"]),
    benchmark("Rings", using: ["Multiprocessing"]),
    benchmark("Pool", using: ["ComputeEngine", "Kernels"], programs: ["FirstPool"]),
  ],
  swiftLanguageModes: [.v6]
)
