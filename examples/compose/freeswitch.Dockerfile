# FreeSWITCH 1.10 from SignalWire's Debian 12 packages, with the engine's rendered configuration added.
FROM debian:bookworm-slim
RUN --mount=type=secret,id=signalwire_token \
    apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && TOKEN="$(cat /run/secrets/signalwire_token)" \
 && curl -fsSL --user "signalwire:${TOKEN}" https://freeswitch.signalwire.com/repo/deb/debian-release/signalwire-freeswitch-repo.gpg \
      -o /usr/share/keyrings/signalwire-freeswitch-repo.gpg \
 && echo "machine freeswitch.signalwire.com login signalwire password ${TOKEN}" > /etc/apt/auth.conf \
 && echo "deb [signed-by=/usr/share/keyrings/signalwire-freeswitch-repo.gpg] https://freeswitch.signalwire.com/repo/deb/debian-release/ bookworm main" \
      > /etc/apt/sources.list.d/freeswitch.list \
 && apt-get update && apt-get install -y --no-install-recommends freeswitch-meta-vanilla \
 && rm -f /etc/apt/auth.conf && rm -rf /var/lib/apt/lists/*
# At start, the rendered files (mounted read-only) are copied over the stock configuration.
CMD ["sh", "-c", "cp -r /etc/freeswitch/hotline-rendered/. /etc/freeswitch/ && exec freeswitch -nf -nonat -u freeswitch -g freeswitch"]
