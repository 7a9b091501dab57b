# hotline engine image: slim, non-root, with a health check. Mount the configuration at /etc/hotline/hotline.yaml:
#   docker run -v ./hotline.yaml:/etc/hotline/hotline.yaml:ro hotline
# FreeSWITCH runs beside it (examples/compose.yaml): the engine reaches its event socket, and both must see the
# same folders for prompts, recordings and voicemail (FreeSWITCH plays and writes them by path).

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
# Wheels for the project and every dependency, so the runtime stage needs no compiler and no build tools.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# espeak-ng speaks the prompts that have no recording (Mandarin voice included in the package); ffmpeg archives
# recordings to Opus and feeds the ASR workers; Noto CJK and pango lay out the PDF report (the same list as
# bootstrap.sh's DEMO_APT).
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng ffmpeg fonts-noto-cjk libpango-1.0-0 \
        libpangoft2-1.0-0 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/hotline --create-home hotline
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels hotline12345 && rm -rf /wheels
USER hotline
WORKDIR /var/lib/hotline
# 8084: outbound socket (the `socket` dialplan app): config refuses 0.0.0.0 for it (no auth in outbound mode),
# so give the container a fixed private address and listen there. 9345: /metrics and /healthz; the health
# check below asks 127.0.0.1, so set telemetry.listen to "0.0.0.0:9345" (or keep 127.0.0.1 and scrape nothing).
EXPOSE 8084 9345
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9345/healthz', timeout=4)"]
ENTRYPOINT ["hotline"]
CMD ["serve", "--config", "/etc/hotline/hotline.yaml"]
