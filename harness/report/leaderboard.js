(function(){
  function key(td,type){var v=td.getAttribute('data-sort');if(v===null)v=td.textContent.trim();
    if(type==='num'){var x=parseFloat(v);return isNaN(x)?null:x;}return v.toLowerCase();}
  function sortTable(table,col,dir){
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),th=table.tHead.rows[0].cells[col];
    var type=th.getAttribute('data-type')||'text',sign=dir==='asc'?1:-1;
    rows.sort(function(a,b){var x=key(a.cells[col],type),y=key(b.cells[col],type);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      return x<y?-sign:(x>y?sign:0);});
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',dir==='asc'?'ascending':'descending');
    table.setAttribute('data-sorted',col+':'+dir);
  }
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
      th.addEventListener('click',function(){
        var cur=th.getAttribute('aria-sort');
        sortTable(table,i,cur==='descending'?'asc':(cur==='ascending'?'desc':
          (th.getAttribute('data-type')==='num'?'desc':'asc')));});});});
  /* #sort=TABLE_ID:COLUMN:asc|desc opens the page sorted (shareable links) */
  var m=/^#sort=([\w-]+):(\d+):(asc|desc)$/.exec(location.hash);
  if(m){var t=document.getElementById(m[1]);if(t&&t.classList.contains('sortable'))sortTable(t,+m[2],m[3]);}
  /* a link or URL to #run-NAME opens that run's drill-down */
  function openTarget(){var id=decodeURIComponent(location.hash.slice(1)),el=id&&document.getElementById(id);
    if(el&&el.tagName==='DETAILS')el.open=true;}
  window.addEventListener('hashchange',openTarget);openTarget();
  document.body.setAttribute('data-sortable-tables',String(tables.length));
  window.addEventListener('load',function(){var ok=0,imgs=document.images;
    for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
    document.body.setAttribute('data-images-rendered',ok+'/'+imgs.length);});
})();
