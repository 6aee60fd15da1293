/// Placeholder until the serve pipeline lands.
public enum Daemon {}
