import BenchmarkSupport
import Multiprocessing

// Becomes a spawned child or the fork server; run by hand it does nothing.
bootstrapMultiprocessing(entryPoints: BenchmarkEntryPoints.all)
