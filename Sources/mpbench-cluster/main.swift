import ArgumentParser
import Multiprocessing
import ToolSupport

// `mpbench cluster`, which mpbench runs in its place: see ClusterLauncher in mpbench. (Run
// directly, too, it starts as mpbench does.)
unblockSignals()
bootstrapMultiprocessing(entryPoints: [])
ClusterCommand.runAsRoot()
