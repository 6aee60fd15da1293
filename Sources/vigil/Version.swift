/// The version `vigil --version` prints (`vigil X.Y.Z`). The one place it is written: raise it
/// here for a release.
let vigilVersion = "0.1.0"
