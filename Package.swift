// swift-tools-version: 6.1

import PackageDescription

let package = Package(
  name: "swift-multiprocessing",
  products: [
    .library(name: "Scheduler", targets: ["Scheduler"]),
    .library(name: "Multiprocessing", targets: ["Multiprocessing"]),
    .library(name: "ComputeEngine", targets: ["ComputeEngine"]),
    .library(name: "ComputeEngineMPI", targets: ["ComputeEngineMPI"]),
    .library(name: "LoadGeneration", targets: ["LoadGeneration"]),
    .library(name: "Kernels", targets: ["Kernels"]),
    .executable(name: "mpbench", targets: ["mpbench"]),
    .executable(name: "mpbench-cluster", targets: ["mpbench-cluster"]),
    .executable(name: "mpload", targets: ["mpload"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CHwloc",
      pkgConfig: "hwloc",
      providers: [.apt(["libhwloc-dev"])]
    ),
    // libxml2, loaded when first used, to say where an XML topology hwloc refused is malformed.
    .target(name: "CLibXML2"),
    // Open MPI (or MPICH): the pool across machines.
    .systemLibrary(
      name: "CMPI",
      pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev"])]
    ),
    .target(name: "CSystemShims"),
    .target(
      name: "SystemCalls",
      dependencies: ["CSystemShims", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .target(
      name: "Scheduler",
      dependencies: ["CHwloc", "CLibXML2", "CSystemShims", "SystemCalls", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .target(
      name: "Multiprocessing",
      dependencies: [
        "CSystemShims", "SystemCalls",
        .product(name: "SystemPackage", package: "swift-system"),
        .product(name: "Atomics", package: "swift-atomics"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "ComputeEngine",
      dependencies: [
        "Scheduler", "Multiprocessing", "SystemCalls",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .target(
      name: "ComputeEngineMPI",
      dependencies: [
        "CMPI", "CSystemShims", "ComputeEngine", "Multiprocessing", "Scheduler", "SystemCalls",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .target(
      name: "LoadGeneration",
      dependencies: [
        "Scheduler", "Multiprocessing", "Kernels", "SystemCalls",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .target(
      name: "Kernels",
      dependencies: [.product(name: "Atomics", package: "swift-atomics")]
    ),
    // What both command-line tools need beyond ArgumentParser.
    .target(
      name: "ToolSupport",
      dependencies: [
        "Kernels", "CSystemShims", "Multiprocessing", "SystemCalls",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .executableTarget(
      name: "mpbench",
      dependencies: [
        "Scheduler", "Multiprocessing", "ComputeEngine", "LoadGeneration", "Kernels", "ToolSupport",
        "SystemCalls", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Atomics", package: "swift-atomics"), .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // `mpbench cluster`, which mpbench runs in its place (exec): the one command that needs
    // Open MPI, kept out of mpbench so that mpbench's processes do not load it.
    .executableTarget(
      name: "mpbench-cluster",
      dependencies: [
        "ComputeEngine", "ComputeEngineMPI", "Multiprocessing", "Kernels", "ToolSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "mpload",
      dependencies: [
        "Scheduler", "Multiprocessing", "LoadGeneration", "ToolSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Yams", package: "Yams"),
      ]
    ),
    // README.md's examples, compiled so that they cannot drift (see ReadmeSnippetTests).
    .executableTarget(
      name: "ReadmeExamples",
      dependencies: [
        "Multiprocessing", "Scheduler", "ComputeEngine", "ComputeEngineMPI", "Kernels", "LoadGeneration",
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Examples/ReadmeExamples"),
    .testTarget(name: "ReadmeTests", path: "Tests/ReadmeTests"),
    // Real jobs a number cruncher writes, each serial, on threads and on processes, timed.
    .target(name: "ExampleSupport", path: "Examples/ExampleSupport"),
    .executableTarget(
      name: "HeatDiffusion",
      dependencies: [
        "ComputeEngine", "Multiprocessing", "ExampleSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Examples/HeatDiffusion"),
    .executableTarget(
      name: "Render",
      dependencies: [
        "ComputeEngine", "Multiprocessing", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Examples/Render"),
    .executableTarget(
      name: "WordCount",
      dependencies: [
        "ComputeEngine", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Examples/WordCount"),
    .testTarget(name: "ExamplesTests", dependencies: ["HeatDiffusion", "Render", "WordCount", "ComputeEngine"]),
    // One rank of the MPI tests, which run it under mpirun.
    .executableTarget(
      name: "MPITestRank",
      dependencies: [
        "ComputeEngineMPI", "ComputeEngine", "Multiprocessing", "TestEntryPoints",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      path: "Tests/MPITestRank"),
    .testTarget(
      name: "ComputeEngineMPITests",
      dependencies: ["ComputeEngineMPI", "Scheduler", "TestEntryPoints", "MPITestRank", "mpbench", "mpbench-cluster"]
    ),
    .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "CSystemShims", "MPTestChild"]),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
    .testTarget(
      name: "SystemCallsTests",
      dependencies: ["SystemCalls", "CSystemShims", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "MPBenchTests",
      dependencies: [
        "mpbench", "mpbench-cluster", "mpload", "Kernels", "ToolSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Yams", package: "Yams"),
      ]
    ),
    .target(
      name: "TestEntryPoints", dependencies: ["Multiprocessing", "ComputeEngine", "Kernels", "CSystemShims"],
      path: "Tests/TestEntryPoints"),
    .executableTarget(
      name: "MPTestChild",
      dependencies: [
        "Multiprocessing", "Scheduler", "TestEntryPoints", "CSystemShims",
        .product(name: "Logging", package: "swift-log"),
      ], path: "Tests/MPTestChild"),
    .testTarget(
      name: "MultiprocessingTests",
      dependencies: ["Multiprocessing", "TestEntryPoints", "MPTestChild", "CSystemShims", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(name: "LoadGenerationTests", dependencies: ["LoadGeneration", "Multiprocessing", "Scheduler"]),
    .testTarget(
      name: "ComputeEngineTests",
      dependencies: [
        "ComputeEngine", "Multiprocessing", "Kernels", "TestEntryPoints", "MPTestChild", "CSystemShims",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "MetricsTestKit", package: "swift-metrics"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
