// Herald console: draws the overview's per-day chart with uPlot (served from this server). The
// figures are also in a table on the page, so nothing depends on this script to be read.
document.addEventListener('DOMContentLoaded', () => {
  // uPlot is the global of uPlot.iife.min.js, loaded before this file.
  const el = document.getElementById('daily-chart');
  if (!el || typeof uPlot === 'undefined') return;
  const s = JSON.parse(el.dataset.series || '{}');
  const days = (s.days || []).map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const draw = () => {
    el.textContent = '';
    const width = Math.max(280, el.clientWidth);
    new uPlot(
      {
        width,
        height: 260,
        series: [
          {},
          { label: 'sent', stroke: '#2563eb', width: 2 },
          { label: 'delivered', stroke: '#059669', width: 2 },
          { label: 'read', stroke: '#7c3aed', width: 2 },
          { label: 'failed', stroke: '#dc2626', width: 2 },
        ],
        axes: [{}, { size: 50 }],
      },
      [days, s.sent || [], s.delivered || [], s.read || [], s.failed || []],
      el,
    );
  };
  draw();
  let t;
  window.addEventListener('resize', () => {
    clearTimeout(t);
    t = setTimeout(draw, 200);
  });
});
