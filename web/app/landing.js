import { addStrings, applyI18n, initI18n, toggleLang } from '/shared/i18n.js';

addStrings({
  'landing.title': { zh: 'Crest 防汛指挥协同', en: 'Crest flood coordination' },
  'landing.intro': {
    zh: '险情、队伍、安置点、水位与转移令的实时共享态势。请选择：',
    en: 'The live shared picture of hazards, teams, shelters, water levels and evacuation orders. Choose:',
  },
  'landing.dashboard': { zh: '指挥调度台', en: 'Dispatcher dashboard' },
  'landing.dashboard.what': { zh: '指挥部大屏：地图、告警、调度与汛情快报', en: 'The command-center screen: map, alerts, dispatch and the situation report' },
  'landing.field': { zh: '现场终端', en: 'Field app' },
  'landing.field.what': { zh: '抢险队伍平板与手机：报险、巡堤、转移安置，离线可用', en: 'For team tablets and phones: report hazards, patrol, check evacuees in; works offline' },
});

await initI18n();
applyI18n();
document.getElementById('lang-switch').addEventListener('click', () => toggleLang());
