# Read once at boot: the process keeps serving this commit until it is restarted, whatever the
# checkout on disk says meanwhile.
Rails.configuration.x.revision = ENV.fetch("REVISION") do
  `git -C #{Rails.root.to_s.inspect} rev-parse HEAD 2>/dev/null`.strip.presence || "unknown"
end
