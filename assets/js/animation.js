// The post's animations (layouts/_partials/figure/animation.html): a muted, looping <video> over
// its poster. Plays it, unless the reader asked for reduced motion: then it stays paused on the
// poster until the reader presses Play. Either way a button pauses and resumes it (WCAG 2.2.2).
// Without this script the player is hidden and the GIF in <noscript> shows instead.
"use strict";

const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

function enhance(figure) {
  const video = figure.querySelector("video");
  const button = figure.querySelector("button.play");
  if (!video || !button) return;
  const show = (playing) => {
    figure.classList.toggle("playing", playing);
    button.textContent = playing ? "Pause" : "Play";
    button.setAttribute("aria-label", (playing ? "Pause" : "Play") + " the animation");
    button.setAttribute("aria-pressed", String(playing));
  };
  video.addEventListener("play", () => show(true));
  video.addEventListener("pause", () => show(false));
  button.addEventListener("click", () => (video.paused ? video.play() : video.pause()));
  show(false);
  button.hidden = false;
  if (!reduceMotion.matches) video.play().catch(() => show(false));
}

document.querySelectorAll("figure.animation").forEach(enhance);
