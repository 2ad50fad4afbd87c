// The KeyEmbed page: sends the keywords to POST /similarity and draws the answer. No libraries, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim() || sessionStorage.getItem("keyembed-key") || "";
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// Colour is relative to the matrix's own range (lowest to highest pair), so small differences stay visible;
// the legend under the table says which scores the ends stand for.
function colour(score, low, high) {
  const t = high > low ? Math.max(0, Math.min(1, (score - low) / (high - low))) : 1;
  const lightness = 97 - t * 62;
  return { background: `hsl(222, 70%, ${lightness}%)`, text: lightness < 68 ? "#fff" : "#1d2230" };
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function drawHeatmap(texts, matrix) {
  const pairs = matrix.flatMap((row, i) => row.filter((_, j) => j !== i));
  const low = pairs.length ? Math.min(...pairs) : 0;
  const high = pairs.length ? Math.max(...pairs) : 1;
  $("legend").textContent = `Colour from ${low.toFixed(3)} (light, least similar pair) to ${high.toFixed(3)} (dark, most similar pair); the diagonal is each keyword with itself.`;
  const table = $("heatmap");
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  head.appendChild(cell("th", ""));
  texts.forEach((t) => head.appendChild(cell("th", t)));
  const body = table.createTBody();
  matrix.forEach((row, i) => {
    const tr = body.insertRow();
    tr.appendChild(cell("th", texts[i]));
    row.forEach((score, j) => {
      const td = cell("td", score.toFixed(3));
      const c = colour(score, low, high);
      td.style.background = c.background;
      td.style.color = c.text;
      td.dataset.row = i;
      td.dataset.col = j;
      td.title = `${texts[i]} ↔ ${texts[j]}: ${score.toFixed(4)}`;
      tr.appendChild(td);
    });
  });
}

function drawToSet(texts, toSet) {
  const table = $("to-set");
  table.replaceChildren();
  const order = texts.map((_, i) => i).sort((a, b) => toSet[b] - toSet[a]);
  for (const i of order) {
    const tr = table.insertRow();
    tr.appendChild(cell("td", texts[i]));
    const score = cell("td", toSet[i].toFixed(3));
    score.className = "score";
    score.dataset.index = i;
    tr.appendChild(score);
    const barCell = tr.insertCell();
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.max(0, toSet[i]) * 10}rem`;
    barCell.appendChild(bar);
  }
}

function drawNeighbours(texts, neighbours) {
  const table = $("neighbours");
  table.replaceChildren();
  neighbours.forEach((list, i) => {
    const tr = table.insertRow();
    tr.appendChild(cell("td", texts[i]));
    tr.appendChild(cell("td", list.map((n) => `${n.text} (${n.score.toFixed(3)})`).join(", ")));
  });
}

async function compare() {
  const texts = $("keywords").value.split("\n").map((t) => t.trim()).filter((t) => t.length > 0);
  if (texts.length < 2) {
    setStatus("Type at least two keywords, one per line.", true);
    return;
  }
  const body = { texts, top_k: Number($("top-k").value) || 3 };
  if ($("layer").value !== "") body.layers = JSON.parse($("layer").value);
  if ($("pooling").value !== "") body.pooling = $("pooling").value;
  $("compare").disabled = true;
  setStatus("Embedding " + texts.length + " keywords…", false);
  try {
    const response = await fetch("similarity", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) {
      setStatus(`${response.status}: ${answer.error ? answer.error.message : response.statusText}`, true);
      return;
    }
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem("keyembed-key", key);
    // Texts the model's vocabulary mostly does not know (Chinese on an English model): the scores mean little.
    $("warning").textContent = answer.warning ? "Warning: " + answer.warning : "";
    $("warning").hidden = !answer.warning;
    drawHeatmap(answer.texts, answer.matrix);
    drawToSet(answer.texts, answer.to_set);
    drawNeighbours(answer.texts, answer.neighbours);
    $("results").hidden = false;
    setStatus(`${answer.texts.length} keywords, model ${answer.model}.`, false);
  } catch (e) {
    setStatus("The request failed: " + e.message, true);
  } finally {
    $("compare").disabled = false;
  }
}

// Fill the layer picker from the model's facts (needs the key when the server has one; the default still works).
async function loadInfo() {
  try {
    const response = await fetch("info", { headers: headers() });
    if (!response.ok) return;
    const info = await response.json();
    if (!info.model) return;
    $("model-line").textContent = `Model ${info.model.name} (${info.model.architecture}, ${info.model.layers} layers, ${info.model.dimensions} dimensions).`;
    const defaults = info.model.defaults;
    if (defaults) {
      $("layer").options[0].textContent = `model default (${defaults.layers.join(", ")})`;
      $("pooling").options[0].textContent = `model default (${defaults.pooling})`;
    }
    const select = $("layer");
    const lastFour = document.createElement("option");
    lastFour.value = JSON.stringify([-4, -3, -2, -1].filter((l) => -l <= info.model.layers + 1));
    lastFour.textContent = "mean of the last 4";
    select.appendChild(lastFour);
    for (let layer = info.model.layers; layer >= 0; layer--) {
      const option = document.createElement("option");
      option.value = String(layer);
      option.textContent = layer === 0 ? "0 (embeddings)" : String(layer);
      select.appendChild(option);
    }
  } catch (e) {
    // The page still works with the model's default layer.
  }
}

// The search box shows only when a vector store is attached (GET /v1/store answers 200).
async function loadStore() {
  try {
    const response = await fetch("v1/store", { headers: headers() });
    if (!response.ok) return;
    const store = await response.json();
    $("store-line").textContent = `${store.count} texts in ${store.location}` + (store.profile ? ` (${store.profile})` : "");
    $("store-search").hidden = false;
  } catch (e) {
    // No store: the box stays hidden.
  }
}

async function searchStore() {
  const query = $("store-query").value.trim();
  if (!query) return;
  $("store-go").disabled = true;
  $("store-status").textContent = "Searching…";
  $("store-status").className = "";
  try {
    const body = { query, top: Number($("store-top").value) || 10 };
    const response = await fetch("v1/search", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) {
      $("store-status").textContent = `${response.status}: ${answer.error ? answer.error.message : response.statusText}`;
      $("store-status").className = "error";
      return;
    }
    const table = $("store-results");
    table.replaceChildren();
    answer.results[0].forEach((hit, i) => {
      const tr = table.insertRow();
      tr.appendChild(cell("td", String(i + 1)));
      const score = cell("td", hit.score.toFixed(3));
      score.className = "score";
      tr.appendChild(score);
      tr.appendChild(cell("td", hit.text));
      tr.appendChild(cell("td", hit.id)).className = "score";
    });
    $("store-status").textContent = `${answer.results[0].length} nearest texts.`;
  } catch (e) {
    $("store-status").textContent = "The request failed: " + e.message;
    $("store-status").className = "error";
  } finally {
    $("store-go").disabled = false;
  }
}

$("store-go").addEventListener("click", searchStore);
$("store-query").addEventListener("keydown", (e) => { if (e.key === "Enter") searchStore(); });
$("api-key").addEventListener("change", loadStore);
$("compare").addEventListener("click", compare);
$("keywords").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) compare(); });
loadInfo();
loadStore();
