// "Copy as Python": the same schedule built with the library it comes from.

const py = (value, library) => {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (Array.isArray(value)) return `[${value.map((v) => py(v, library)).join(", ")}]`;
  if (typeof value === "object") {
    if (typeof value.type === "string") return call(value, value.library || library);
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v, library)}`)
      .join(", ")}}`;
  }
  return typeof value === "string" ? JSON.stringify(value) : String(value);
};

const args = (spec, library) => Object.entries(spec)
  .filter(([k]) => k !== "type" && k !== "library")
  .map(([k, v]) => `${k}=${py(v, library)}`);

// library -> [import line, how a call is spelled, takes the optimizer, how it is stepped]
const LIBRARIES = {
  torch: ["import torch", (t) => `torch.optim.lr_scheduler.${t}`, true,
          "for step in range(steps):\n    optimizer.step()\n    scheduler.step()"],
  transformers: [null, (t) => t, true, "for step in range(steps):\n    optimizer.step()\n    scheduler.step()"],
  pytorch_transformers: [null, (t) => t, true, "scheduler.step() after each optimizer.step()"],
  timm: ["from timm import scheduler as timm_scheduler", (t) => `timm_scheduler.${t}`, true,
         "scheduler.step_update(num_updates=step)  # per update; scheduler.step(epoch) per epoch"],
  keras: ["import keras", (t) => `keras.optimizers.schedules.${t}`, false, "lr = schedule(step)"],
  tensorflow: ["import tensorflow as tf", (t) => `tf.compat.v1.train.${t}`, false,
               "# global_step is a tf.Variable counting updates"],
  optax: ["import optax", (t) => `optax.${t}`, false, "lr = schedule(step)"],
  fvcore: ["from fvcore.common import param_scheduler", (t) => `param_scheduler.${t}`, false,
           "lr = schedule(step / steps)  # where in [0, 1)"],
  detectron2: ["from detectron2.solver import lr_scheduler", (t) => `lr_scheduler.${t}`, true,
               "scheduler.step() after each optimizer.step()"],
  maskrcnn_benchmark: ["from maskrcnn_benchmark.solver import lr_scheduler",
                       (t) => `lr_scheduler.${t}`, true, "scheduler.step() per update"],
  mxnet: ["from mxnet import lr_scheduler", (t) => `lr_scheduler.${t}`, false,
          "lr = schedule(num_update)"],
  fairseq: ["# fairseq builds this scheduler from its config (lr_scheduler=" , (t) => t, true,
            "scheduler.step_update(num_updates)"],
};

function call(spec, library) {
  const entry = LIBRARIES[library];
  const name = entry ? entry[1](spec.type) : spec.type;
  const all = [...(entry && entry[2] ? ["optimizer"] : []), ...args(spec, library)];
  return `${name}(${all.join(", ")})`;
}

export function pythonSnippet(spec, library, request) {
  const entry = LIBRARIES[library];
  const baseLr = Array.isArray(request.base_lr) ? request.base_lr[0] : request.base_lr ?? 0.1;
  if (!entry) {
    return ["from warmstep_client import WarmstepClient", "",
            `curve = WarmstepClient().evaluate(${py(spec)}, steps=${request.steps})`].join("\n");
  }
  const lines = [];
  if (library === "fairseq") lines.push(`${entry[0]}${spec.type})`);
  else if (entry[0]) lines.push(entry[0]);
  if (library === "transformers" || library === "pytorch_transformers") {
    lines.push(`from ${library} import ${spec.type}`);
  }
  if (entry[2]) {
    if (library !== "torch") lines.push("import torch");
    lines.push("", `model = torch.nn.Linear(2, 1)`,
               `optimizer = torch.optim.SGD(model.parameters(), lr=${baseLr})`);
  }
  lines.push("", `steps = ${request.steps}`);
  lines.push(`${entry[2] ? "scheduler" : "schedule"} = ${call(spec, library)}`, entry[3]);
  return lines.join("\n");
}
